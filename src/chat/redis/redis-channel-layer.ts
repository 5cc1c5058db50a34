import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ChannelLayer, GroupEvent, GroupListener } from '../channel-layer';
import { withDeadline } from '../../common/deadline';
import { openRedis, RedisLink } from './redis-connection';

/** A SUBSCRIBE or UNSUBSCRIBE that takes longer is left to the resubscription after a reconnect. */
const SUBSCRIBE_DEADLINE_MS = 1000;

interface Envelope {
  /** The instance that published: it has already delivered locally and ignores its own echo. */
  o: string;
  e: GroupEvent;
}

/**
 * channels_redis for live: one Redis pub/sub channel per room (`<prefix>:chat:<room>`), one
 * publish per message whatever the number of sockets. A message is delivered to this instance's
 * sockets directly, so local delivery goes on when Redis is down; other instances get it from
 * Redis. Publishing order on one connection is delivery order, so each instance's messages arrive
 * everywhere in the order it sent them.
 */
export class RedisChannelLayer extends ChannelLayer {
  private readonly logger = new Logger('RedisChannelLayer');
  readonly origin = randomUUID();
  private readonly groups = new Set<string>();
  private readonly publisher: RedisLink;
  private readonly subscriber: RedisLink;
  private listener: GroupListener = () => undefined;
  private droppedWhileDown = 0;

  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    super();
    this.publisher = openRedis(url, 'publisher', () => this.reportDropped());
    // Subscriptions are ours to restore: on every (re)connect, subscribe to the current groups.
    this.subscriber = openRedis(url, 'subscriber', () => this.resubscribe());
    this.subscriber.redis.on('messageBuffer', (channel: Buffer, payload: Buffer) =>
      this.onPublished(channel, payload),
    );
  }

  private channelOf(group: string): string {
    return `${this.prefix}:chat:${group}`;
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
    if (!this.publisher.up) {
      this.droppedWhileDown++;
      return;
    }
    const envelope: Envelope = { o: this.origin, e: event };
    this.publisher.redis.publish(this.channelOf(group), JSON.stringify(envelope)).catch(() => {
      this.droppedWhileDown++;
    });
  }

  setListener(listener: GroupListener): void {
    this.listener = listener;
  }

  /** Down while either connection is closed, reconnecting, or silent (missed its heartbeats). */
  state(): 'up' | 'down' {
    return this.publisher.up && this.subscriber.up ? 'up' : 'down';
  }

  override async close(): Promise<void> {
    await Promise.all([this.subscriber.close(), this.publisher.close()]);
  }

  private onPublished(channel: Buffer, payload: Buffer): void {
    const group = channel.toString('utf8').slice(this.prefix.length + ':chat:'.length);
    if (!this.groups.has(group)) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload.toString('utf8')) as Envelope;
    } catch {
      this.logger.warn({ event: 'redis_bad_payload', group });
      return;
    }
    if (envelope.o === this.origin) return;
    this.listener(group, envelope.e);
  }

  private resubscribe(): void {
    if (this.groups.size === 0) return;
    const channels = [...this.groups].map((g) => this.channelOf(g));
    withDeadline(this.subscriber.redis.subscribe(...channels), SUBSCRIBE_DEADLINE_MS, 'Redis').catch(
      (err: Error) => this.logger.error({ event: 'redis_resubscribe_failed', error: err.message }),
    );
    this.logger.log({ event: 'redis_resubscribed', groups: channels.length });
  }

  private reportDropped(): void {
    if (this.droppedWhileDown === 0) return;
    // Those messages reached this instance's sockets and the database, only not the other instances.
    this.logger.warn({ event: 'redis_messages_not_relayed', count: this.droppedWhileDown });
    this.droppedWhileDown = 0;
  }
}
