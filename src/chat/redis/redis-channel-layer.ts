import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ChannelLayer, FlushBarrierResult, FlushHandler, GroupEvent, GroupListener } from '../channel-layer';
import { withDeadline } from '../../common/deadline';
import { parseControlEnvelope, RoomControl, RoomControlListener } from '../room-control';
import { RedisFlushBarrier } from './redis-flush-barrier';
import { OpenLink, openPubSub, PubSubLink } from './redis-pubsub';
import { isClusterUrl, RedisNames } from './redis-topology';

/** Rule changes, sanctions and deletions held while Redis is down (beyond: the rest wait for a join's re-read). */
const MAX_HELD_CONTROL = 10_000;
/** A SUBSCRIBE or UNSUBSCRIBE that takes longer is left to the resubscription after a reconnect. */
const SUBSCRIBE_DEADLINE_MS = 1000;

interface Envelope {
  /** The instance that published: it has already delivered locally and ignores its own echo. */
  o: string;
  e: GroupEvent;
  /**
   * A message's number among this origin's messages to the room (1, 2, …): a receiver that sees a
   * number skipped counts what it missed (a publish lost in a failover, a resubscription late).
   */
  s?: number;
}

/** Past this many rooms published to, the numbering starts over (receivers take a lower number as a restart). */
const MAX_NUMBERED_ROOMS = 100_000;
/** Missed messages are logged at most once per this interval, summed. */
const MISSED_REPORT_MS = 1000;

export type { OpenLink, PubSubLink } from './redis-pubsub';

/**
 * channels_redis for live: one Redis pub/sub channel per room (`<prefix>:chat:<room>`; on a Redis
 * Cluster `<prefix>:chat:{<room>}` with sharded pub/sub, see redis-topology.ts), one
 * publish per message whatever the number of sockets. A message is delivered to this instance's
 * sockets directly, so local delivery goes on when Redis is down; other instances get it from
 * Redis. Publishing order on one connection is delivery order, so each instance's messages arrive
 * everywhere in the order it sent them. The flush barrier has channels of its own
 * (`<prefix>:chat-control`, see RedisFlushBarrier), and so do rule changes and moderation
 * (`<prefix>:chat-moderation`, heard by every instance).
 */
export class RedisChannelLayer extends ChannelLayer {
  private readonly logger = new Logger('RedisChannelLayer');
  readonly origin = randomUUID();
  private readonly groups = new Set<string>();
  private readonly publisher: PubSubLink;
  /** `{"o":"<origin>"`: how each envelope this instance publishes starts (see isOwnEcho). */
  private readonly ownPrefix: Buffer;
  private readonly subscriber: PubSubLink;
  private readonly barrier: RedisFlushBarrier;
  private listener: GroupListener = () => undefined;
  private droppedWhileDown = 0;
  /** The last number this instance gave a message, per room. */
  private readonly sentSeq = new Map<string, number>();
  /** The last number received, per room held here and origin. */
  private readonly receivedSeq = new Map<string, Map<string, number>>();
  private missed = 0;
  /** Messages that arrived after a later one of their origin, dropped (see inOrder). */
  private late = 0;
  private readonly missedRooms = new Set<string>();
  private missedReport: NodeJS.Timeout | null = null;
  private readonly moderationChannel: string;
  private readonly names: RedisNames;
  private controlListener: RoomControlListener = () => undefined;
  private subscribedBefore = false;
  /** Control events this instance could not publish (Redis down), to publish once it can (see holdControl). */
  private readonly heldControl = new Map<string, RoomControl>();

  constructor(url: string, prefix: string, open: OpenLink = openPubSub) {
    super();
    this.names = new RedisNames(prefix, isClusterUrl(url));
    this.moderationChannel = this.names.moderation;
    this.publisher = open(url, 'publisher', () => {
      this.reportDropped();
      this.publishHeldControl();
    });
    this.ownPrefix = Buffer.from(JSON.stringify({ o: this.origin }).slice(0, -1));
    this.barrier = new RedisFlushBarrier(this.names, this.origin, this.publisher, this.logger);
    // Subscriptions are ours to restore: on every (re)connect, subscribe to the current groups.
    this.subscriber = open(url, 'subscriber', () => this.resubscribe());
    this.subscriber.redis.on('messageBuffer', (channel: Buffer, payload: Buffer) =>
      this.onPublished(channel, payload),
    );
  }

  private channelOf(group: string): string {
    return this.names.roomChannel(group);
  }

  /**
   * Never waits on a silent Redis for long: a subscription that does not complete within
   * SUBSCRIBE_DEADLINE_MS is restored with the others when the connection is ready again (the
   * heartbeat drops a silent connection within a few seconds).
   */
  async groupAdd(group: string): Promise<void> {
    this.groups.add(group);
    if (!this.subscriber.up) return;
    await withDeadline(
      this.subscriber.redis.subscribe(this.channelOf(group)),
      SUBSCRIBE_DEADLINE_MS,
      'Redis',
    ).catch((err: Error) => this.logger.warn({ event: 'redis_subscribe_failed', group, error: err.message }));
  }

  async groupDiscard(group: string): Promise<void> {
    this.groups.delete(group);
    this.receivedSeq.delete(group); // what is sent while no member is here is not missed
    if (!this.subscriber.up) return;
    await withDeadline(
      this.subscriber.redis.unsubscribe(this.channelOf(group)),
      SUBSCRIBE_DEADLINE_MS,
      'Redis',
    ).catch(
      () => undefined, // a stray subscription is harmless: onPublished ignores groups not held here
    );
  }

  groupSend(group: string, event: GroupEvent): void {
    if (this.groups.has(group)) this.listener(group, event);
    // Numbered even when not sent: the other instances then count it as missed.
    const seq = event.kind === 'message' ? this.nextSeq(group) : undefined;
    if (!this.publisher.up) {
      this.droppedWhileDown++;
      return;
    }
    const envelope: Envelope = { o: this.origin, e: event, s: seq };
    this.publisher.holdWritesForTurn?.();
    this.publisher.redis.publish(this.channelOf(group), JSON.stringify(envelope)).catch(() => {
      this.droppedWhileDown++;
    });
  }

  setListener(listener: GroupListener): void {
    this.listener = listener;
  }

  /** See RedisFlushBarrier: one request to every instance, one acknowledgement from each. */
  flushBarrier(room: string, deadlineMs: number): Promise<FlushBarrierResult> {
    return this.barrier.run(room, deadlineMs);
  }

  setFlushHandler(handler: FlushHandler): void {
    this.barrier.setHandler(handler);
  }

  /** Delivered here at once (so a moderator's action holds even while Redis is down), then published. */
  controlSend(event: RoomControl): void {
    this.controlListener(event);
    if (event.type === 'resync') return;
    if (!this.publisher.up) {
      this.holdControl(event);
      return;
    }
    this.publisher.redis
      .publish(this.moderationChannel, JSON.stringify({ o: this.origin, e: event }))
      .catch((err: Error) => {
        this.logger.warn({ event: 'redis_control_not_sent', type: event.type, error: err.message });
        this.holdControl(event);
      });
  }

  /**
   * An event the other instances did not get is published when Redis is back, as what it changed
   * now means: a rule or sanction change as "read this room's rules again" (the database says which
   * bans and mutes hold by then), a deletion as itself. A kick is not held: it meant "leave now".
   */
  private holdControl(event: Exclude<RoomControl, { type: 'resync' }>): void {
    if (event.type === 'kick') {
      this.logger.warn({ event: 'redis_control_not_sent', type: 'kick', room: event.room });
      return;
    }
    const [key, held]: [string, RoomControl] =
      event.type === 'deleted'
        ? [`deleted:${event.room}:${event.id}`, event]
        : [`rules:${event.room}`, { type: 'rules', room: event.room }];
    if (this.heldControl.size < MAX_HELD_CONTROL) this.heldControl.set(key, held);
  }

  private publishHeldControl(): void {
    if (this.heldControl.size === 0) return;
    const held = [...this.heldControl.values()];
    this.heldControl.clear();
    this.logger.log({ event: 'redis_control_resent', count: held.length });
    for (const e of held) this.controlSend(e);
  }

  setControlListener(listener: RoomControlListener): void {
    this.controlListener = listener;
  }

  /**
   * Down while either connection is closed, reconnecting, or silent (missed its heartbeats); on a
   * cluster also while any master does not answer (its rooms' messages are being lost).
   */
  state(): 'up' | 'down' {
    const ok = (link: PubSubLink) => link.up && link.healthy !== false;
    return ok(this.publisher) && ok(this.subscriber) ? 'up' : 'down';
  }

  override async close(): Promise<void> {
    if (this.missedReport) clearTimeout(this.missedReport);
    this.reportMissed();
    await Promise.all([this.subscriber.close(), this.publisher.close()]);
  }

  private onPublished(channel: Buffer, payload: Buffer): void {
    // This instance's own publish, back from Redis (half of what a pair receives): delivered here
    // already, and not worth decoding the channel for. A moderation event of its own would be
    // ignored after parsing too; flush-barrier messages start otherwise (`{"type":…`).
    if (this.isOwnEcho(payload)) return;
    const name = channel.toString('utf8');
    if (this.barrier.owns(name)) {
      this.barrier.receive(name, payload.toString('utf8'));
      return;
    }
    if (name === this.moderationChannel) {
      const control = parseControlEnvelope(payload.toString('utf8'));
      if (!control) this.logger.warn({ event: 'redis_bad_control', channel: name });
      else if (control.origin !== this.origin) this.controlListener(control.event);
      return;
    }
    const group = this.names.roomOf(name);
    if (group === null || !this.groups.has(group)) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload.toString('utf8')) as Envelope;
    } catch {
      this.logger.warn({ event: 'redis_bad_payload', group });
      return;
    }
    if (envelope?.o === this.origin) return;
    // It came over Redis: what is not one of our events (a stray or forged publish) goes no further.
    const kind = (envelope?.e as { kind?: unknown } | undefined)?.kind;
    if (kind !== 'message' && kind !== 'presence') {
      this.logger.warn({ event: 'redis_bad_payload', group });
      return;
    }
    if (kind === 'message' && typeof envelope.s === 'number' && !this.inOrder(group, envelope.o, envelope.s))
      return;
    this.listener(group, envelope.e);
  }

  /** Whether an envelope starts as this instance's do (`{"o":"<its origin>"`): a byte compare, no parse. */
  private isOwnEcho(payload: Buffer): boolean {
    const prefix = this.ownPrefix;
    return (
      payload.length > prefix.length && payload.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
    );
  }

  private nextSeq(group: string): number {
    if (this.sentSeq.size >= MAX_NUMBERED_ROOMS && !this.sentSeq.has(group)) this.sentSeq.clear();
    const seq = (this.sentSeq.get(group) ?? 0) + 1;
    this.sentSeq.set(group, seq);
    return seq;
  }

  /**
   * Whether a message of `origin` may be delivered: the next number, or a later one (a skipped
   * number is a message this instance never got: counted and logged). One that comes after a later
   * one is dropped, not delivered out of order: on a Redis Cluster, a publish that meets a failover
   * is redirected (MOVED) and re-sent by ioredis, and may reach Redis after the next publish went
   * straight to the new master. It was already counted missed by the gap it left, so the count stays
   * exact: missed = not delivered. Number 1 after higher ones is the origin's numbering starting
   * over (MAX_NUMBERED_ROOMS), not a late message.
   */
  private inOrder(group: string, origin: string, seq: number): boolean {
    let origins = this.receivedSeq.get(group);
    if (!origins) this.receivedSeq.set(group, (origins = new Map()));
    const last = origins.get(origin);
    if (last !== undefined && seq <= last && seq !== 1) {
      this.late++;
      this.scheduleMissedReport();
      return false;
    }
    origins.set(origin, seq);
    if (last === undefined || seq <= last + 1) return true; // the first heard, the next, or a restart
    this.missed += seq - last - 1;
    this.missedRooms.add(group);
    this.scheduleMissedReport();
    return true;
  }

  private scheduleMissedReport(): void {
    this.missedReport ??= setTimeout(() => this.reportMissed(), MISSED_REPORT_MS);
    this.missedReport.unref();
  }

  private reportMissed(): void {
    this.missedReport = null;
    if (this.missed === 0 && this.late === 0) return;
    this.logger.warn({
      event: 'redis_messages_missed',
      count: this.missed,
      rooms: this.missedRooms.size,
      // Arrived after a later message of the same instance, and dropped (already in an earlier count).
      lateDropped: this.late,
    });
    this.missed = 0;
    this.late = 0;
    this.missedRooms.clear();
  }

  /** On every (re)connect: the barrier's channels, and the groups held now. */
  private resubscribe(): void {
    const groups = [...this.groups].map((g) => this.channelOf(g));
    const channels = [this.barrier.requests, this.barrier.replies, this.moderationChannel, ...groups];
    withDeadline(this.subscriber.redis.subscribe(...channels), SUBSCRIBE_DEADLINE_MS, 'Redis').catch(
      (err: Error) => this.logger.error({ event: 'redis_resubscribe_failed', error: err.message }),
    );
    if (groups.length > 0) this.logger.log({ event: 'redis_resubscribed', groups: groups.length });
    // Rule changes and moderation published while this instance was cut off were lost to it.
    if (this.subscribedBefore) this.controlListener({ type: 'resync' });
    this.subscribedBefore = true;
  }

  private reportDropped(): void {
    if (this.droppedWhileDown === 0) return;
    // Those messages reached this instance's sockets and the database, only not the other instances.
    this.logger.warn({ event: 'redis_messages_not_relayed', count: this.droppedWhileDown });
    this.droppedWhileDown = 0;
  }
}
