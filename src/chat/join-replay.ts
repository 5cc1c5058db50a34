import WebSocket from 'ws';
import { withDeadline } from '../common/deadline';
import { ChatClient, ChatJoin } from './chat-client';
import type { ChatLog } from './chat-log';
import type { ChatConfig } from './chat.config';
import { ChatMessage, encodeV1, plainMessage } from './chat.protocol';
import type { HistoryService } from './history.service';
import { RoomHub } from './room-hub';

/** An INSERT's time on top of the flush interval (see JoinReplay.readable). */
const INSERT_ALLOWANCE_MS = 150;

export type JoinReplayConfig = Pick<
  ChatConfig,
  'historyDefault' | 'historyMax' | 'historyJoinTimeoutMs' | 'historyFlushMs'
>;

/**
 * What a joining socket asked to see first (`history=<n>` or `since=<id>`), then the live messages
 * that arrived meanwhile, without a gap or a duplicate: the fan-out holds live messages for the
 * socket (`client.ready` false) until the history is sent, and only those after it are released.
 */
export class JoinReplay {
  constructor(
    private readonly config: JoinReplayConfig,
    private readonly history: Pick<HistoryService, 'recent' | 'after'>,
    private readonly hub: RoomHub,
    private readonly log: ChatLog,
  ) {}

  /** Call once the client is in its room. */
  start(client: ChatClient, join: ChatJoin): void {
    const wanted = join.history ?? (join.v1 ? this.config.historyDefault : 0);
    if (join.since !== null || wanted > 0) {
      client.ready = false;
      void this.send(client, wanted, join.since);
    }
  }

  /** Live messages that arrived while the join history loaded, minus those the history already held. */
  release(client: ChatClient): void {
    if (client.ready) return;
    client.ready = true;
    const waiting = client.pending;
    client.pending = [];
    for (const m of waiting) if (m.id > client.lastSentId) this.hub.sendMessage(client, m);
  }

  /**
   * The history a socket asked for, then the live messages held meanwhile. The read has a deadline
   * (CHAT_HISTORY_JOIN_TIMEOUT_MS): a hung database must not mute a new socket, so on failure or
   * timeout a live.v1 client gets `history_unavailable` and live messages flow anyway.
   */
  private async send(client: ChatClient, count: number, since: number | null): Promise<void> {
    try {
      let messages: ChatMessage[];
      let truncated = false;
      const deadline = this.config.historyJoinTimeoutMs;
      if (since !== null) {
        await this.readable(client.room);
        ({ messages, truncated } = await withDeadline(
          this.history.after(client.room, since, this.config.historyMax),
          deadline,
          'history read',
        ));
      } else {
        messages = await withDeadline(this.history.recent(client.room, count), deadline, 'history read');
      }
      if (client.ws.readyState !== WebSocket.OPEN || client.ready) return;
      if (client.v1) {
        client.ws.send(
          encodeV1({ type: 'history', room: client.room, messages, ...(truncated ? { truncated } : {}) }),
        );
      } else {
        for (const m of messages) client.ws.send(plainMessage(m));
      }
      if (messages.length > 0) client.lastSentId = messages[messages.length - 1].id;
    } catch (err) {
      this.log.error({ event: 'history_load_failed', room: client.room, error: (err as Error).message });
      if (client.v1)
        client.ws.send(
          encodeV1({ type: 'error', code: 'history_unavailable', message: 'History could not be loaded' }),
        );
    }
    this.release(client);
  }

  /**
   * When a `since` read may start. First, this instance must receive the room: from then on every
   * message reaches the socket (held), so what the read misses can only be older. This instance's
   * own unsaved messages are in the read (HistoryService merges its queue). In a cluster, a message
   * another instance published before that may still sit in that instance's write batch: so the
   * other instances are asked to write theirs now, and the read starts once all of them confirmed.
   * One that does not answer (or cannot write) is waited for no longer than its batch would take on
   * its own: two flush intervals and an INSERT. A single instance has no one to wait for.
   */
  private async readable(room: string): Promise<void> {
    await this.hub.subscribed(room);
    await this.hub.othersFlushed(room, this.config.historyFlushMs * 2 + INSERT_ALLOWANCE_MS);
  }
}
