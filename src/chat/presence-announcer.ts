import { ChannelLayer } from './channel-layer';
import { ChatClient } from './chat-client';
import type { ChatLog } from './chat-log';
import { ANONYMOUS_NAME, encodeV1 } from './chat.protocol';
import { PresenceTracker, presenceNames } from './presence';
import { RoomHub } from './room-hub';

/** At most one presence frame per room per this many milliseconds, to this instance's sockets. */
const PRESENCE_DEBOUNCE_MS = 50;
/** At most one "members changed" notice per room per this many milliseconds, to every instance. */
const PRESENCE_ANNOUNCE_MS = 20;

/**
 * Who is in a room, told to its live.v1 sockets. A join or leave here is recorded in the
 * PresenceTracker and announced through the ChannelLayer to every instance with the room; each of
 * them (this one included) then reads the member list and sends one `presence` frame. Both steps
 * coalesce, because joins and leaves come in bursts.
 */
export class PresenceAnnouncer {
  private readonly frameTimers = new Map<string, NodeJS.Timeout>();
  private readonly pendingAnnouncements = new Set<string>();
  private announceTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly tracker: PresenceTracker,
    private readonly layer: ChannelLayer,
    private readonly hub: RoomHub,
    private readonly log: ChatLog,
  ) {}

  joined(client: ChatClient): void {
    this.tracker
      .join(client.room, client.id, client.name)
      .then(() => this.announce(client.room))
      .catch((err: Error) => this.logError('presence_join_failed', client.room, err));
  }

  left(client: ChatClient): void {
    if (this.stopped) return;
    this.tracker
      .leave(client.room, client.id)
      .then(() => this.announce(client.room))
      .catch((err: Error) => this.logError('presence_leave_failed', client.room, err));
  }

  /**
   * A burst of connections joins a room many times within milliseconds (one per event-loop turn);
   * one notice per room per PRESENCE_ANNOUNCE_MS is enough, receivers debounce their presence frame
   * anyway: on Redis, one PUBLISH per room per window instead of one per connection.
   */
  private announce(room: string): void {
    if (this.stopped) return;
    this.pendingAnnouncements.add(room);
    this.announceTimer ??= setTimeout(() => this.flushAnnouncements(), PRESENCE_ANNOUNCE_MS);
  }

  private flushAnnouncements(): void {
    this.announceTimer = null;
    const rooms = [...this.pendingAnnouncements];
    this.pendingAnnouncements.clear();
    if (this.stopped) return;
    for (const room of rooms) this.layer.groupSend(room, { kind: 'presence', room });
  }

  /** The members of `room` changed (a notice came through the ChannelLayer): send its frame, debounced. */
  refresh(room: string): void {
    if (this.stopped) return;
    const members = this.hub.members(room);
    if (!members || this.frameTimers.has(room)) return;
    let hasV1 = false;
    for (const c of members)
      if (c.v1) {
        hasV1 = true;
        break;
      }
    if (!hasV1) return;
    this.frameTimers.set(
      room,
      setTimeout(() => {
        this.frameTimers.delete(room);
        void this.sendFrame(room);
      }, PRESENCE_DEBOUNCE_MS),
    );
  }

  /** Members may have vanished without a leave (another instance died): refresh every local room. */
  refreshAll(): void {
    for (const room of this.hub.roomNames()) this.refresh(room);
  }

  /** Shutdown: no more notices or frames; pending ones are dropped. */
  stop(): void {
    this.stopped = true;
    for (const t of this.frameTimers.values()) clearTimeout(t);
    this.frameTimers.clear();
    if (this.announceTimer) clearTimeout(this.announceTimer);
    this.announceTimer = null;
    this.pendingAnnouncements.clear();
  }

  private async sendFrame(room: string): Promise<void> {
    try {
      const names = await this.tracker.members(room);
      const bytes = Buffer.from(
        encodeV1({
          type: 'presence',
          room,
          members: presenceNames(names),
          count: names.length,
          // One name for every anonymous visitor: how many there are tells them apart (the page's ×3).
          anonymous: names.filter((n) => n === ANONYMOUS_NAME).length,
        }),
      );
      for (const c of this.hub.members(room) ?? []) if (c.v1) this.hub.write(c, bytes);
    } catch (err) {
      this.logError('presence_read_failed', room, err as Error);
    }
  }

  private logError(event: string, room: string, err: Error): void {
    this.log.error({ event, room, error: err.message });
  }
}
