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
import { waitAtMost, withDeadline } from '../common/deadline';
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
/** On shutdown, how long sockets get to answer the 1001 close frame before they are cut. */
const SHUTDOWN_GRACE_MS = 2000;
/** The `name` column of chat_message is varchar(300) (Django's 150 + space + 150). */
export const MAX_NAME_CHARS = 300;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves when the socket is closed (at once if it already is). */
function whenClosed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

/**
 * The display name a socket is greeted, listed and stored under. Decided here, once per socket,
 * rather than by the storage layer, so that what others see live is what history keeps: a name
 * longer than the column (MAX_NAME_CHARS code points) is truncated, without splitting a character,
 * and a NUL (which PostgreSQL text cannot hold) becomes U+FFFD, the same on SQLite and PostgreSQL.
 * HistoryService still drops (and counts) a row the database refuses, as a safety net.
 */
export function fitName(name: string): string {
  let out = name.includes('\u0000') ? name.replaceAll('\u0000', '\uFFFD') : name;
  if (out.length > MAX_NAME_CHARS) out = Array.from(out).slice(0, MAX_NAME_CHARS).join('');
  return out;
}

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

  /**
   * SIGTERM: no new message is accepted; every socket gets what it is owed (live messages held for
   * a joining socket included), then 1001, and the coalescer's corked writes are flushed so the
   * close frame actually leaves. The sockets then get SHUTDOWN_GRACE_MS to answer it; only after
   * that may the ws adapter terminate what is left (terminating at once lost the held frames, and
   * cut the sockets with unread input, which the peer sees as 1006). History is flushed after
   * (HistoryService.beforeApplicationShutdown), so every accepted message is also saved.
   */
  async onModuleDestroy(): Promise<void> {
    this.shuttingDown = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const t of this.presenceTimers.values()) clearTimeout(t);
    if (this.announceTimer) clearTimeout(this.announceTimer);
    const clients: ChatClient[] = [];
    for (const members of this.rooms.values()) clients.push(...members);
    for (const c of clients) if (!c.ready) this.deliverPending(c);
    const closed = clients.map((c) => whenClosed(c.ws));
    for (const c of clients) c.ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
    this.coalescer.flushNow();
    await waitAtMost(Promise.all(closed), SHUTDOWN_GRACE_MS);
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
    const name = fitName(join.name);
    const client = new ChatClient(randomUUID(), ws, join.room, name, join.userId, join.v1, this.config.burst);
    if (this.shuttingDown) {
      // Upgraded while the server stops: nothing to join any more.
      ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
      return client;
    }
    let members = this.rooms.get(join.room);
    if (!members) {
      this.rooms.set(join.room, (members = new Set()));
      this.layer.groupAdd(join.room).catch((err: Error) => this.logError('group_add_failed', join.room, err));
    }
    members.add(client);
    const welcome = welcomeText(name);
    ws.send(
      join.v1
        ? encodeV1({ type: 'welcome', room: join.room, name, user: join.userId, text: welcome })
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
      .join(join.room, client.id, name)
      .then(() => this.announcePresence(join.room))
      .catch((err: Error) => this.logError('presence_join_failed', join.room, err));
    return client;
  }

  /**
   * The history a socket asked for, then the live messages held meanwhile. The read has a deadline
   * (CHAT_HISTORY_JOIN_TIMEOUT_MS): a hung database must not mute a new socket, so on failure or
   * timeout a live.v1 client gets `history_unavailable` and live messages flow anyway.
   */
  private async sendJoinHistory(client: ChatClient, count: number, since: number | null): Promise<void> {
    try {
      let messages: ChatMessage[];
      let truncated = false;
      const deadline = this.config.historyJoinTimeoutMs;
      if (since !== null) {
        // Another instance may still hold some of the missed messages in its write batch (they were
        // published before this socket subscribed): give its flush time to land before reading.
        if (this.config.redisUrl) await sleep(this.config.historyFlushMs * 2 + 150);
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
      this.logError('history_load_failed', client.room, err as Error);
      if (client.v1)
        client.ws.send(
          encodeV1({ type: 'error', code: 'history_unavailable', message: 'History could not be loaded' }),
        );
    }
    this.deliverPending(client);
  }

  /** Live messages that arrived while the join history loaded, minus those the history already held. */
  private deliverPending(client: ChatClient): void {
    if (client.ready) return;
    client.ready = true;
    const waiting = client.pending;
    client.pending = [];
    for (const m of waiting) if (m.id > client.lastSentId) this.sendMessageTo(client, m);
  }

  private onFrame(client: ChatClient, data: Buffer, isBinary: boolean): void {
    // Shutting down: the socket was sent 1001; what it sends now is not accepted (nor stored).
    if (this.shuttingDown) return;
    if (isBinary) {
      client.ws.close(CLOSE.binary.code, CLOSE.binary.reason);
      return;
    }
    const verdict = takeToken(client, this.config.rate, this.config.burst, this.config.floodStrikes);
    if (verdict !== 'ok') {
      if (verdict === 'close') {
        this.logger.warn({ event: 'socket_flood_closed', room: client.room, name: client.name });
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
    // NUL is refused at the source, the same on both engines (PostgreSQL text cannot hold it):
    // live.v1 gets bad_request; the plain seed protocol has no error frame, so nothing is relayed.
    if (text.includes('\u0000')) {
      if (client.v1)
        this.sendFrame(client, {
          type: 'error',
          code: 'bad_request',
          message: 'Text must not contain NUL (U+0000) characters',
        });
      return;
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
      name: fitName(name),
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
      this.logger.warn({
        event: 'socket_slow_consumer_closed',
        room: client.room,
        buffered: ws.bufferedAmount,
      });
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
    this.logger.error({ event, room, error: err.message });
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
