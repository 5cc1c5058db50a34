/** Who is in which room: per instance in memory, or cluster-wide (Redis) in cluster mode. */
export abstract class PresenceTracker {
  abstract join(room: string, connectionId: string, name: string): Promise<void>;
  abstract leave(room: string, connectionId: string): Promise<void>;
  /** One name per connection (a user with two tabs appears twice). */
  abstract members(room: string): Promise<string[]>;
  /** Rooms with at least one connection, and how many. */
  abstract rooms(): Promise<{ room: string; members: number }[]>;
  /** Called when members may have vanished without a leave (another instance died). */
  onStale(listener: () => void): void {
    void listener;
  }
  async close(): Promise<void> {}
}

export class InMemoryPresence extends PresenceTracker {
  private readonly byRoom = new Map<string, Map<string, string>>();

  async join(room: string, connectionId: string, name: string): Promise<void> {
    let members = this.byRoom.get(room);
    if (!members) this.byRoom.set(room, (members = new Map()));
    members.set(connectionId, name);
  }

  async leave(room: string, connectionId: string): Promise<void> {
    const members = this.byRoom.get(room);
    if (!members) return;
    members.delete(connectionId);
    if (members.size === 0) this.byRoom.delete(room);
  }

  async members(room: string): Promise<string[]> {
    return [...(this.byRoom.get(room)?.values() ?? [])];
  }

  async rooms(): Promise<{ room: string; members: number }[]> {
    return [...this.byRoom].map(([room, m]) => ({ room, members: m.size }));
  }

  async connections(room: string): Promise<string[]> {
    return [...(this.byRoom.get(room)?.keys() ?? [])];
  }

  /** connection id → name, for pushing this instance's members elsewhere. */
  async entries(room: string): Promise<[string, string][]> {
    return [...(this.byRoom.get(room) ?? [])];
  }
}

/** The presence frame's member list: each name once, sorted. */
export function presenceNames(names: string[]): string[] {
  return [...new Set(names)].sort((a, b) => a.localeCompare(b));
}
