import { ChatMessage } from './chat.protocol';
import type { RoomControl, RoomControlListener } from './room-control';

/** What travels through a room's group: a chat message or a change of who is present. */
export type GroupEvent = { kind: 'message'; message: ChatMessage } | { kind: 'presence'; room: string };

/** Receives the events of the groups it was added to (one per instance: the room hub). */
export type GroupListener = (group: string, event: GroupEvent) => void;

/** Another instance asked this one to write its unsaved history now: true once written. */
export type FlushHandler = () => Promise<boolean>;

/**
 * How a flush barrier ended: how many other instances were asked (null: the request could not be
 * sent), how many confirmed, how many could not write, and whether all of them confirmed.
 */
export interface FlushBarrierResult {
  expected: number | null;
  acks: number;
  failed: number;
  complete: boolean;
}

/**
 * Django Channels' channel layer, reduced to what rooms need. `groupSend` reaches every instance
 * whose listener has the group, exactly once per instance; each instance then fans out locally.
 */
export abstract class ChannelLayer {
  /** The first local member of a group: start receiving it. */
  abstract groupAdd(group: string): Promise<void>;
  /** The last local member left: stop receiving it. */
  abstract groupDiscard(group: string): Promise<void>;
  abstract groupSend(group: string, event: GroupEvent): void;
  abstract setListener(listener: GroupListener): void;
  /**
   * Asks every other instance to write the history it holds unsaved (see FlushHandler) and resolves
   * once all of them confirmed, or after `deadlineMs` (an instance that does not answer, a failed
   * write, Redis down). `room` is the reason, for the log. Never rejects.
   */
  abstract flushBarrier(room: string, deadlineMs: number): Promise<FlushBarrierResult>;
  /** What this instance does when another one asks for a flush barrier. */
  abstract setFlushHandler(handler: FlushHandler): void;
  /** 'up' for the in-memory layer; the Redis layer reports its connection. */
  abstract state(): 'up' | 'down';
  /**
   * A room's rules changed or a moderator acted: every instance's control listener hears it, this
   * one's first and at once, whatever rooms they hold (see room-control.ts).
   */
  abstract controlSend(event: RoomControl): void;
  abstract setControlListener(listener: RoomControlListener): void;
  async close(): Promise<void> {}
}

/** One process: sending is delivering. */
export class InMemoryChannelLayer extends ChannelLayer {
  private listener: GroupListener = () => undefined;
  private readonly groups = new Set<string>();

  async groupAdd(group: string): Promise<void> {
    this.groups.add(group);
  }

  async groupDiscard(group: string): Promise<void> {
    this.groups.delete(group);
  }

  groupSend(group: string, event: GroupEvent): void {
    if (this.groups.has(group)) this.listener(group, event);
  }

  setListener(listener: GroupListener): void {
    this.listener = listener;
  }

  /** No other instance: nothing to wait for. */
  async flushBarrier(): Promise<FlushBarrierResult> {
    return { expected: 0, acks: 0, failed: 0, complete: true };
  }

  /** Never asked: there is no other instance. */
  setFlushHandler(_handler: FlushHandler): void {}

  state(): 'up' {
    return 'up';
  }

  private controlListener: RoomControlListener = () => undefined;

  controlSend(event: RoomControl): void {
    this.controlListener(event);
  }

  setControlListener(listener: RoomControlListener): void {
    this.controlListener = listener;
  }
}
