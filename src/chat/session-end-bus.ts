import type { SessionsEnded } from '../auth/session-events';

export type SessionsEndedHandler = (ended: SessionsEnded) => void;

/**
 * How the sessions that ended on one instance reach the others, which may hold sockets opened with
 * them. Each instance acts on its own ends directly; the bus carries them to everyone else. Best
 * effort: an end the bus loses (Redis down) is still found by every instance's periodic re-check.
 */
export abstract class SessionEndBus {
  /** To every other instance. */
  abstract publish(ended: SessionsEnded): void;
  /** What this instance does with another instance's ends. */
  abstract setHandler(handler: SessionsEndedHandler): void;
  async close(): Promise<void> {}
}

/** One process: there is no one else to tell. */
export class LocalSessionEndBus extends SessionEndBus {
  publish(): void {}
  setHandler(): void {}
}
