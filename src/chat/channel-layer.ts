import { ChatMessage } from './chat.protocol';

/** What travels through a room's group: a chat message or a change of who is present. */
export type GroupEvent = { kind: 'message'; message: ChatMessage } | { kind: 'presence'; room: string };

/** Receives the events of the groups it was added to (one per instance: the room hub). */
export type GroupListener = (group: string, event: GroupEvent) => void;

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
  /** 'up' for the in-memory layer; the Redis layer reports its connection. */
  abstract state(): 'up' | 'down';
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

  state(): 'up' {
    return 'up';
  }
}
