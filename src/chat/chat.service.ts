import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import WebSocket from 'ws';
import { waitAtMost } from '../common/deadline';
import { MetricsService } from '../metrics/metrics.service';
import { ChannelLayer, GroupEvent } from './channel-layer';
import { ChatClient, ChatJoin } from './chat-client';
import { ChatConnection, ChatPoster, ConnectionContext, SocketModeration } from './chat-connection';
import type { ChatSocket } from './chat-socket';
import { ChatConfig } from './chat.config';
import { ChatMessage, CLOSE, wellFormed } from './chat.protocol';
import { Heartbeat } from './heartbeat';
import { HistoryService } from './history.service';
import { InstanceSlot } from './instance-slot';
import { JoinReplay } from './join-replay';
import { MessageIdGenerator } from './message-id';
import { PresenceTracker } from './presence';
import { PresenceAnnouncer } from './presence-announcer';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';
import { SocketIndex, SocketSelector } from './socket-index';

export type { ChatJoin } from './chat-client';

/** What happens on this instance, for those who act on it outside the chat (the outgoing webhook). */
export interface ChatObserver {
  posted?(message: ChatMessage): void;
  joined?(client: ChatClient): void;
  left?(client: ChatClient): void;
}

/** On shutdown, how long sockets get to answer the 1001 close frame before they are cut. */
const SHUTDOWN_GRACE_MS = 2000;
/** The `name` column of live_chat_message is varchar(300) (Django's 150 + space + 150). */
export const MAX_NAME_CHARS = 300;

/** Resolves when the socket is closed (at once if it already is). */
function whenClosed(ws: ChatSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.once('close', () => resolve()));
}

/**
 * The display name a socket is greeted, listed and stored under. Decided here, once per socket,
 * rather than by the storage layer, so that what others see live is what history keeps: a name
 * longer than the column (MAX_NAME_CHARS code points) is truncated, without splitting a character,
 * and a NUL (which PostgreSQL text cannot hold) or a lone surrogate becomes U+FFFD, the same on
 * SQLite and PostgreSQL.
 * HistoryService still drops (and counts) a row the database refuses, as a safety net.
 */
export function fitName(name: string): string {
  let out = wellFormed(name.includes('\u0000') ? name.replaceAll('\u0000', '\uFFFD') : name);
  if (out.length > MAX_NAME_CHARS) out = Array.from(out).slice(0, MAX_NAME_CHARS).join('');
  return out;
}

/**
 * The chat of this instance, as the rest of the app sees it: sockets come in through `connect`,
 * messages through `post`; start-up and shutdown. The work is done by its pieces: RoomHub
 * (membership, fan-out), ChatConnection (one per socket: events, protocol, flood control),
 * JoinReplay (history/since), PresenceAnnouncer, SlowConsumerGuard and Heartbeat. Cross-instance
 * delivery goes through the ChannelLayer; storage through HistoryService.
 */
@Injectable()
export class ChatService implements OnModuleInit, OnModuleDestroy, ChatPoster {
  private readonly logger = new Logger('Chat');
  readonly ids = new MessageIdGenerator(0);
  private readonly hub: RoomHub;
  private readonly replay: JoinReplay;
  private readonly announcer: PresenceAnnouncer;
  private readonly heartbeat: Heartbeat;
  private readonly connections: ConnectionContext;
  /** This instance's sockets by user and session (see closeSockets). */
  readonly sockets = new SocketIndex();
  private shuttingDown = false;
  private readonly observers: ChatObserver[] = [];

  constructor(
    private readonly config: ChatConfig,
    private readonly layer: ChannelLayer,
    private readonly presence: PresenceTracker,
    private readonly history: HistoryService,
    private readonly slot: InstanceSlot,
    private readonly metrics: MetricsService,
  ) {
    const log = this.logger;
    this.hub = new RoomHub(layer, new SlowConsumerGuard(config.maxBufferedBytes, log), metrics, log);
    this.replay = new JoinReplay(config, history, this.hub, log);
    this.announcer = new PresenceAnnouncer(presence, layer, this.hub, log);
    this.heartbeat = new Heartbeat(this.hub, config.pingIntervalMs);
    this.connections = {
      chat: this,
      hub: this.hub,
      replay: this.replay,
      presence: this.announcer,
      metrics,
      config,
      log,
    };
  }

  async onModuleInit(): Promise<void> {
    await this.slot.acquire((slot) => this.ids.setSlot(slot));
    this.layer.setListener((group, event) => this.onGroupEvent(group, event));
    // Another instance is about to read the history (a join's `since`): what this one holds goes first.
    this.layer.setFlushHandler(() => this.history.flushNow());
    // Members of a dead instance vanished without a leave: tell this instance's rooms.
    this.presence.onStale(() => this.announcer.refreshAll());
    this.heartbeat.start();
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
    this.heartbeat.stop();
    this.announcer.stop();
    this.hub.stop();
    const clients = this.hub.clients();
    for (const c of clients) this.replay.release(c);
    const closed = clients.map((c) => whenClosed(c.ws));
    for (const c of clients) c.ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
    this.hub.flushWrites();
    await waitAtMost(Promise.all(closed), SHUTDOWN_GRACE_MS);
  }

  /** Shutting down: sockets were sent 1001 and what they send is no longer accepted. */
  get stopping(): boolean {
    return this.shuttingDown;
  }

  get socketCount(): number {
    return this.hub.socketCount;
  }

  localRooms(): { room: string; members: number }[] {
    return this.hub.localRooms();
  }

  /** Moderation commands from live.v1 sockets go to `handler` (ModerationService registers itself). */
  useModeration(handler: SocketModeration): void {
    this.connections.moderation = handler;
  }

  /** The sockets this instance holds in `room`. */
  clientsIn(room: string): ChatClient[] {
    return [...(this.hub.members(room) ?? [])];
  }

  /** A socket passed the upgrade checks: greet it, join its room, send what it asked for. */
  connect(ws: ChatSocket, join: ChatJoin): ChatClient {
    const client = new ChatClient(
      randomUUID(),
      ws,
      join.room,
      fitName(join.name),
      join.userId,
      join.v1,
      join.userId !== null ? (join.sessionKey ?? null) : null,
    );
    if (this.shuttingDown) {
      // Upgraded while the server stops: nothing to join any more.
      ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
      return client;
    }
    new ChatConnection(client, this.connections).open(join);
    this.sockets.add(client);
    for (const o of this.observers) o.joined?.(client);
    ws.once('close', () => {
      this.sockets.remove(client);
      for (const o of this.observers) o.left?.(client);
    });
    return client;
  }

  /**
   * Closes this instance's sockets of a user or a session (`room` narrows either) with `close`,
   * and returns how many. They leave their room and presence at once, as if the peer had answered
   * the close already (one that never does is cut by ws after its close timeout).
   */
  closeSockets(who: SocketSelector, close: { code: number; reason: string }): number {
    const clients = this.sockets.find(who);
    for (const client of clients) {
      this.sockets.remove(client);
      client.ws.close(close.code, close.reason);
      if (this.hub.leave(client)) this.announcer.left(client);
    }
    if (clients.length > 0) this.hub.flushWrites();
    return clients.length;
  }

  /**
   * Stores a message and sends it to the room on every instance. `bot`: posted under a bot name
   * through the publish API (live.v1 frames and history then carry `bot: true`).
   */
  post(room: string, userId: number | null, name: string, text: string, bot = false): ChatMessage {
    const message: ChatMessage = {
      id: this.ids.next(),
      room,
      user: userId,
      name: fitName(name),
      text: wellFormed(text),
      ts: new Date().toISOString(),
    };
    if (bot) message.bot = true;
    this.history.append(message);
    this.layer.groupSend(room, { kind: 'message', message });
    for (const o of this.observers) o.posted?.(message);
    return message;
  }

  /**
   * Tells `observer` of what happens on this instance: messages posted here (once, on the instance
   * they came in on), sockets joining and leaving. Called synchronously: an observer only queues.
   */
  observe(observer: ChatObserver): void {
    this.observers.push(observer);
  }

  private onGroupEvent(room: string, event: GroupEvent): void {
    if (event.kind === 'message') this.hub.broadcast(room, event.message);
    else this.announcer.refresh(room);
  }
}
