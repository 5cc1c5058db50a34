import { Injectable, Logger } from '@nestjs/common';

/**
 * Sessions that ended inside live: by their keys (a logout, a login replacing a session, a staff
 * "log out everywhere"), or every session of some users whose password, active flag or very
 * existence changed (the sessions themselves are found out by re-checking them).
 */
export interface SessionsEnded {
  sessionKeys?: readonly string[];
  userIds?: readonly number[];
}

export type SessionsEndedListener = (ended: SessionsEnded) => void;

/**
 * Where auth says that sessions ended, for whoever holds something opened with them (the chat's
 * open sockets: src/chat/session-watch.ts). Called after the change is committed; in-process only,
 * the chat relays it to the other instances.
 */
@Injectable()
export class SessionEvents {
  private readonly logger = new Logger('SessionEvents');
  private readonly listeners = new Set<SessionsEndedListener>();

  ended(ended: SessionsEnded): void {
    if (!ended.sessionKeys?.length && !ended.userIds?.length) return;
    for (const listener of this.listeners) {
      try {
        listener(ended);
      } catch (err) {
        this.logger.error({ event: 'session_end_listener_failed', error: (err as Error).message });
      }
    }
  }

  /** Returns the unsubscribe function. */
  onEnded(listener: SessionsEndedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
