import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import WebSocket from 'ws';
import { ChannelLayer, GroupEvent } from './channel-layer';
import { ChatClient, takeToken } from './chat-client';
import { ChatConfig } from './chat.config';
import {
  ChatMessage,
  CLOSE,
  encodeV1,
  messageFrame,
  plainMessage,
  ServerFrame,
  welcomeText,
} from './chat.protocol';
import { HistoryService } from './history.service';
import { MetricsService } from '../metrics/metrics.service';
import { InstanceSlot } from './instance-slot';
import { MessageIdGenerator } from './message-id';
import { PresenceTracker, presenceNames } from './presence';
import { preframeText, sendPreframed, WriteCoalescer } from './raw-frame';

/** What the upgrade handler learned about a socket before accepting it. */
export interface ChatJoin {
  room: string;
  name: string;
  userId: number | null;
  v1: boolean;
  /** History to send on join: live.v1 clients get the default unless they ask; plain clients only if asked. */
  history: number | null;
  since: number | null;
}

const PRESENCE_DEBOUNCE_MS = 50;
const PRESENCE_ANNOUNCE_MS = 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The rooms of this instance: local membership, the broadcast fan-out, floods and slow consumers.
 * Cross-instance delivery goes through the ChannelLayer; storage through HistoryService.
 */
@Injectable()
export class ChatService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Chat');
  private readonly rooms = new Map<string, Set<ChatClient>>();
  private readonly presenceTimers = new Map<string, NodeJS.Timeout>();
  private readonly pendingAnnouncements = new Set<string>();
  private announceTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  readonly ids = new MessageIdGenerator(0);
  private shuttingDown = false;
  private readonly coalescer = new WriteCoalescer();

  constructor(
    private readonly config: ChatConfig,
    private readonly layer: ChannelLayer,
    private readonly presence: PresenceTracker,
    private readonly history: HistoryService,
    private readonly slot: InstanceSlot,
    private readonly metrics: MetricsService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.slot.acquire((slot) => this.ids.setSlot(slot));
    this.layer.setListener((group, event) => this.onGroupEvent(group, event));
    // Members of a dead instance vanished without a leave: tell this instance's rooms.
    this.presence.onStale(() => {
      for (const room of this.rooms.keys()) this.schedulePresence(room);
    });
    this.pingTimer = setInterval(() => this.pingAll(), this.config.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** SIGTERM: every socket is told the server is going away (1001). History is flushed after. */
  onModuleDestroy(): void {
    this.shuttingDown = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const t of this.presenceTimers.values()) clearTimeout(t);
    if (this.announceTimer) clearTimeout(this.announceTimer);
    for (const members of this.rooms.values()) {
      for (const c of members) c.ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
    }
  }

  get socketCount(): number {
    let n = 0;
    for (const m of this.rooms.values()) n += m.size;
    return n;
  }

  localRooms(): { room: string; members: number }[] {
    return [...this.rooms].map(([room, m]) => ({ room, members: m.size }));
  }

  /** A socket passed the upgrade checks: greet it, join its room, send what it asked for. */
  connect(ws: WebSocket, join: ChatJoin): ChatClient {
    const client = new ChatClient(
      randomUUID(),
      ws,
      join.room,
      join.name,
      join.userId,
      join.v1,
      this.config.burst,
    );
    let members = this.rooms.get(join.room);
    if (!members) {
      this.rooms.set(join.room, (members = new Set()));
      this.layer.groupAdd(join.room).catch((err: Error) => this.logError('group_add_failed', join.room, err));
    }
    members.add(client);
    const welcome = welcomeText(join.name);
    ws.send(
      join.v1
        ? encodeV1({ type: 'welcome', room: join.room, name: join.name, user: join.userId, text: welcome })
        : welcome,
    );

    const wanted = join.history ?? (join.v1 ? this.config.historyDefault : 0);
    if (join.since !== null || wanted > 0) {
      client.ready = false;
      void this.sendJoinHistory(client, wanted, join.since);
    }
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(client, data, isBinary));
    ws.on('pong', () => (client.alive = true));
    ws.on('close', (code: number) => {
      this.metrics.chatSocketsClosed.inc({ code: String(code), reason: closeReasonLabel(code) });
      this.disconnect(client);
    });
    this.presence
      .join(join.room, client.id, join.name)
      .then(() => this.announcePresence(join.room))
      .catch((err: Error) => this.logError('presence_join_failed', join.room, err));
    return client;
  }

  private async sendJoinHistory(client: ChatClient, count: number, since: number | null): Promise<void> {
    try {
      let messages: ChatMessage[];
      let truncated = false;
      if (since !== null) {
        // Another instance may still hold some of the missed messages in its write batch (they were
        // published before this socket subscribed): give its flush time to land before reading.
        if (this.config.redisUrl) await sleep(this.config.historyFlushMs * 2 + 150);
        ({ messages, truncated } = await this.history.after(client.room, since, this.config.historyMax));
      } else {
        messages = await this.history.recent(client.room, count);
      }
      if (client.ws.readyState !== WebSocket.OPEN) return;
      if (client.v1) {
        client.ws.send(
          encodeV1({ type: 'history', room: client.room, messages, ...(truncated ? { truncated } : {}) }),
        );
      } else {
        for (const m of messages) client.ws.send(plainMessage(m));
      }
      if (messages.length > 0) client.lastSentId = messages[messages.length - 1].id;
    } catch (err) {
      this.logError('history_load_failed', client.room, err as Error);
      if (client.v1)
        client.ws.send(
          encodeV1({ type: 'error', code: 'history_unavailable', message: 'History could not be loaded' }),
        );
    }
    // Live messages that arrived meanwhile, minus those the history already held.
    client.ready = true;
    const waiting = client.pending;
    client.pending = [];
    for (const m of waiting) if (m.id > client.lastSentId) this.sendMessageTo(client, m);
  }

  private onFrame(client: ChatClient, data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      client.ws.close(CLOSE.binary.code, CLOSE.binary.reason);
      return;
    }
    const verdict = takeToken(client, this.config.rate, this.config.burst, this.config.floodStrikes);
    if (verdict !== 'ok') {
      if (verdict === 'close') {
        this.logger.warn(
          JSON.stringify({ event: 'socket_flood_closed', room: client.room, name: client.name }),
        );
        client.ws.close(CLOSE.flood.code, CLOSE.flood.reason);
      } else if (client.v1) {
        this.sendFrame(client, {
          type: 'error',
          code: 'rate_limited',
          message: `Slow down: at most ${this.config.rate} messages per second`,
        });
      }
      return;
    }
    let text = data.toString('utf8');
    if (client.v1) {
      const parsed = parseClientFrame(text);
      if (typeof parsed === 'string') {
        this.sendFrame(client, { type: 'error', code: 'bad_request', message: parsed });
        return;
      }
      text = parsed.text;
    }
    this.metrics.chatMessagesReceived.inc();
    this.post(client.room, client.userId, client.name, text);
  }

  /** Stores a message and sends it to the room on every instance. */
  post(room: string, userId: number | null, name: string, text: string): ChatMessage {
    const message: ChatMessage = {
      id: this.ids.next(),
      room,
      user: userId,
      name,
      text,
      ts: new Date().toISOString(),
    };
    this.history.append(message);
    this.layer.groupSend(room, { kind: 'message', message });
    return message;
  }

  private onGroupEvent(room: string, event: GroupEvent): void {
    if (event.kind === 'message') this.broadcast(room, event.message);
    else this.schedulePresence(room);
  }

  /**
   * The hot path: each encoding of the message is built once, as bytes, and the same buffer is
   * written to every socket of the room that speaks it.
   */
  broadcast(room: string, message: ChatMessage): void {
    const members = this.rooms.get(room);
    if (!members) return;
    const started = process.hrtime.bigint();
    let plain: Buffer | undefined;
    let plainFrame: Buffer | null = null;
    let json: Buffer | undefined;
    let jsonFrame: Buffer | null = null;
    for (const client of members) {
      if (!client.ready) {
        client.pending.push(message);
        continue;
      }
      if (client.v1) {
        if (!json) jsonFrame = preframeText((json = Buffer.from(encodeV1(messageFrame(message)))));
        this.write(client, json, jsonFrame);
      } else {
        if (!plain) plainFrame = preframeText((plain = Buffer.from(plainMessage(message))));
        this.write(client, plain, plainFrame);
      }
    }
    this.metrics.chatMessagesDelivered.inc(members.size);
    this.metrics.chatBroadcastSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  private sendMessageTo(client: ChatClient, message: ChatMessage): void {
    this.write(client, Buffer.from(client.v1 ? encodeV1(messageFrame(message)) : plainMessage(message)));
  }

  private sendFrame(client: ChatClient, frame: ServerFrame): void {
    this.write(client, Buffer.from(encodeV1(frame)));
  }

  /** Writes a text frame unless the socket is closed or too far behind (then it is closed: 1013). */
  private write(client: ChatClient, bytes: Buffer, framed: Buffer | null = null): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.config.maxBufferedBytes) {
      this.logger.warn(
        JSON.stringify({
          event: 'socket_slow_consumer_closed',
          room: client.room,
          buffered: ws.bufferedAmount,
        }),
      );
      ws.close(CLOSE.slowConsumer.code, CLOSE.slowConsumer.reason);
      // A peer that reads nothing will not take the close frame either: cut it after a grace period.
      setTimeout(() => ws.terminate(), 2000).unref();
      return;
    }
    this.coalescer.hold(ws);
    sendPreframed(ws, framed, bytes);
  }

  private disconnect(client: ChatClient): void {
    const members = this.rooms.get(client.room);
    if (!members?.delete(client)) return;
    if (members.size === 0) {
      this.rooms.delete(client.room);
      if (!this.shuttingDown)
        this.layer
          .groupDiscard(client.room)
          .catch((err: Error) => this.logError('group_discard_failed', client.room, err));
    }
    if (this.shuttingDown) return;
    this.presence
      .leave(client.room, client.id)
      .then(() => this.announcePresence(client.room))
      .catch((err: Error) => this.logError('presence_leave_failed', client.room, err));
  }

  /**
   * A burst of connections joins a room many times within milliseconds (one per event-loop turn);
   * one notice per room per PRESENCE_ANNOUNCE_MS is enough, receivers debounce their presence frame
   * anyway: on Redis, one PUBLISH per room per window instead of one per connection.
   */
  private announcePresence(room: string): void {
    this.pendingAnnouncements.add(room);
    this.announceTimer ??= setTimeout(() => this.flushAnnouncements(), PRESENCE_ANNOUNCE_MS);
  }

  private flushAnnouncements(): void {
    this.announceTimer = null;
    const rooms = [...this.pendingAnnouncements];
    this.pendingAnnouncements.clear();
    if (this.shuttingDown) return;
    for (const room of rooms) this.layer.groupSend(room, { kind: 'presence', room });
  }

  /** Joins and leaves come in bursts: one presence frame per room per 50 ms is enough. */
  private schedulePresence(room: string): void {
    const members = this.rooms.get(room);
    if (!members || this.presenceTimers.has(room)) return;
    let hasV1 = false;
    for (const c of members)
      if (c.v1) {
        hasV1 = true;
        break;
      }
    if (!hasV1) return;
    this.presenceTimers.set(
      room,
      setTimeout(() => {
        this.presenceTimers.delete(room);
        void this.sendPresence(room);
      }, PRESENCE_DEBOUNCE_MS),
    );
  }

  private async sendPresence(room: string): Promise<void> {
    try {
      const names = await this.presence.members(room);
      const bytes = Buffer.from(
        encodeV1({ type: 'presence', room, members: presenceNames(names), count: names.length }),
      );
      for (const c of this.rooms.get(room) ?? []) if (c.v1) this.write(c, bytes);
    } catch (err) {
      this.logError('presence_read_failed', room, err as Error);
    }
  }

  /** Dead peers: a socket that did not answer the previous ping is terminated. */
  private pingAll(): void {
    for (const members of this.rooms.values()) {
      for (const c of members) {
        if (!c.alive) {
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        c.ws.ping();
      }
    }
  }

  private logError(event: string, room: string, err: Error): void {
    this.logger.error(JSON.stringify({ event, room, error: err.message }));
  }
}

/** The metrics label of a close code: why live (or the peer) closed the socket. */
export function closeReasonLabel(code: number): string {
  const byCode: Record<number, string> = {
    1000: 'normal',
    1001: 'going_away',
    1003: 'bad_frame_binary',
    1005: 'no_status',
    1006: 'abnormal',
    1007: 'bad_frame_utf8',
    1008: 'flood',
    1009: 'bad_frame_too_big',
    1013: 'slow_consumer',
  };
  return byCode[code] ?? 'other';
}

/** A live.v1 client frame: `{"type":"message","text":"…"}`. Returns the text, or why it is refused. */
export function parseClientFrame(raw: string): { text: string } | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'Expected a JSON object {"type":"message","text":"…"}';
  }
  const frame = value as { type?: unknown; text?: unknown };
  if (typeof value !== 'object' || value === null || frame.type !== 'message')
    return 'Unknown frame type; expected "message"';
  if (typeof frame.text !== 'string') return 'A message needs a "text" string';
  return { text: frame.text };
}
