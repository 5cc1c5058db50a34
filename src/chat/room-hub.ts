import WebSocket from 'ws';
import { MetricsService } from '../metrics/metrics.service';
import { ChannelLayer, FlushBarrierResult } from './channel-layer';
import { ChatClient } from './chat-client';
import type { ChatLog } from './chat-log';
import { ChatMessage, encodeV1, messageFrame, plainMessage, ServerFrame } from './chat.protocol';
import { preframeText, sendPreframed, WriteCoalescer } from './raw-frame';
import { SlowConsumerGuard } from './slow-consumer';

/**
 * The rooms of this instance: which sockets are in which room, and the fan-out that writes each
 * message to them. A room is received from the ChannelLayer while it has a local member.
 */
export class RoomHub {
  private readonly rooms = new Map<string, Set<ChatClient>>();
  /** Per local room, its ChannelLayer subscription; settles once the room is received (or given up on). */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly coalescer = new WriteCoalescer();
  private stopped = false;

  constructor(
    private readonly layer: ChannelLayer,
    private readonly slowConsumers: SlowConsumerGuard,
    private readonly metrics: MetricsService,
    private readonly log: ChatLog,
  ) {}

  join(client: ChatClient): void {
    let members = this.rooms.get(client.room);
    if (!members) {
      this.rooms.set(client.room, (members = new Set()));
      this.subscriptions.set(
        client.room,
        this.layer
          .groupAdd(client.room)
          .catch((err: Error) =>
            this.log.error({ event: 'group_add_failed', room: client.room, error: err.message }),
          ),
      );
    }
    members.add(client);
  }

  /** Removes a member; false if it was not one. The last member out stops the room's subscription. */
  leave(client: ChatClient): boolean {
    const members = this.rooms.get(client.room);
    if (!members?.delete(client)) return false;
    if (members.size === 0) {
      this.rooms.delete(client.room);
      this.subscriptions.delete(client.room);
      if (!this.stopped)
        this.layer
          .groupDiscard(client.room)
          .catch((err: Error) =>
            this.log.error({ event: 'group_discard_failed', room: client.room, error: err.message }),
          );
    }
    return true;
  }

  /** Resolves once this instance receives `room` from the ChannelLayer: what is published after reaches its members. */
  subscribed(room: string): Promise<void> {
    return this.subscriptions.get(room) ?? Promise.resolve();
  }

  /**
   * Resolves once every other instance wrote the history it held unsaved, or after `deadlineMs`.
   * Asked after subscribed(room), it makes what was published to the room before this instance
   * received it readable from the database (see ChannelLayer.flushBarrier).
   */
  othersFlushed(room: string, deadlineMs: number): Promise<FlushBarrierResult> {
    return this.layer.flushBarrier(room, deadlineMs);
  }

  members(room: string): ReadonlySet<ChatClient> | undefined {
    return this.rooms.get(room);
  }

  roomNames(): IterableIterator<string> {
    return this.rooms.keys();
  }

  /** Every member of every room, as a list (safe to close sockets while walking it). */
  clients(): ChatClient[] {
    const all: ChatClient[] = [];
    for (const members of this.rooms.values()) all.push(...members);
    return all;
  }

  get socketCount(): number {
    let n = 0;
    for (const m of this.rooms.values()) n += m.size;
    return n;
  }

  localRooms(): { room: string; members: number }[] {
    return [...this.rooms].map(([room, m]) => ({ room, members: m.size }));
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

  /** One message to one client, in its protocol (a held message after its join history). */
  sendMessage(client: ChatClient, message: ChatMessage): void {
    this.write(client, Buffer.from(client.v1 ? encodeV1(messageFrame(message)) : plainMessage(message)));
  }

  sendFrame(client: ChatClient, frame: ServerFrame): void {
    this.write(client, Buffer.from(encodeV1(frame)));
  }

  /** Writes a text frame unless the socket is closed or too far behind (then it is closed: 1013). */
  write(client: ChatClient, bytes: Buffer, framed: Buffer | null = null): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (!this.slowConsumers.admits(ws, client.room)) return;
    // raw-frame reads ws internals when the socket has them, and calls send() when it has not.
    this.coalescer.hold(ws as WebSocket);
    sendPreframed(ws as WebSocket, framed, bytes);
  }

  /** Shutdown: the sockets are about to close; rooms emptied now keep their subscription until the layer closes. */
  stop(): void {
    this.stopped = true;
  }

  /** Uncorks every socket the coalescer holds, so what was written (a close frame too) leaves now. */
  flushWrites(): void {
    this.coalescer.flushNow();
  }
}
