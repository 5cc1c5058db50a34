import { ChatClient } from './chat-client';

/** Who to find: a user's sockets or a session's, either narrowed to one room. */
export interface SocketSelector {
  userId?: number;
  sessionKey?: string;
  room?: string;
}

/**
 * This instance's open sockets by who opened them: the logged-in user, and the session they were
 * opened with. Kept beside RoomHub's rooms (never read by the fan-out), for what acts on a person
 * rather than a room: a session that ended, a kick.
 */
export class SocketIndex {
  private readonly byUser = new Map<number, Set<ChatClient>>();
  private readonly bySession = new Map<string, Set<ChatClient>>();

  add(client: ChatClient): void {
    if (client.userId !== null) addTo(this.byUser, client.userId, client);
    if (client.sessionKey) addTo(this.bySession, client.sessionKey, client);
  }

  remove(client: ChatClient): void {
    if (client.userId !== null) removeFrom(this.byUser, client.userId, client);
    if (client.sessionKey) removeFrom(this.bySession, client.sessionKey, client);
  }

  /** The sockets that match, as a list (safe to close them while walking it); none without a user or session. */
  find(who: SocketSelector): ChatClient[] {
    let found: Iterable<ChatClient> = [];
    if (who.sessionKey !== undefined) found = this.bySession.get(who.sessionKey) ?? [];
    else if (who.userId !== undefined) found = this.byUser.get(who.userId) ?? [];
    const out: ChatClient[] = [];
    for (const c of found)
      if (
        (who.userId === undefined || c.userId === who.userId) &&
        (who.room === undefined || c.room === who.room)
      )
        out.push(c);
    return out;
  }

  hasUser(userId: number): boolean {
    return this.byUser.has(userId);
  }

  /** The distinct sessions behind this instance's logged-in sockets. */
  sessionKeys(): string[] {
    return [...this.bySession.keys()];
  }
}

function addTo<K>(map: Map<K, Set<ChatClient>>, key: K, client: ChatClient): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(client);
}

function removeFrom<K>(map: Map<K, Set<ChatClient>>, key: K, client: ChatClient): void {
  const set = map.get(key);
  if (!set?.delete(client)) return;
  if (set.size === 0) map.delete(key);
}
