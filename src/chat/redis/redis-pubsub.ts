import type { Cluster } from 'ioredis';
import { openRedis, RedisClusterLink, RedisLink } from './redis-connection';

/** What the channel layer and the session-end bus use of a pub/sub connection. */
export interface PubSubLink {
  /** Commands may go (on a cluster: some shard may still be down, see `healthy`). */
  readonly up: boolean;
  /** Every part of Redis answers (a single Redis: the same as `up`). */
  readonly healthy?: boolean;
  readonly redis: {
    subscribe(...channels: string[]): Promise<unknown>;
    unsubscribe(...channels: string[]): Promise<unknown>;
    publish(channel: string, message: string): Promise<number>;
    on(event: 'messageBuffer', listener: (channel: Buffer, payload: Buffer) => void): unknown;
  };
  /**
   * Sends this turn's writes together at its end (one Redis: see RedisLink.holdWritesForTurn).
   * Absent on a cluster, whose connections autopipeline.
   */
  holdWritesForTurn?(): void;
  close(): Promise<void>;
}

export type OpenLink = (url: string, role: string, onReady: () => void) => PubSubLink;

/**
 * Sharded pub/sub on a cluster, in PubSubLink's words: SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH and the
 * `smessageBuffer` event. ioredis keeps the subscribed channels and subscribes them again on the
 * shard that owns them after a failover or a reconnect, so a channel is subscribed once here and
 * a second `subscribe` of it (a resubscription after `ready`) is a no-op.
 */
class ShardedPubSub {
  private readonly channels = new Set<string>();

  constructor(private readonly cluster: Cluster) {}

  async subscribe(...channels: string[]): Promise<unknown> {
    const fresh = channels.filter((c) => !this.channels.has(c));
    for (const c of fresh) this.channels.add(c);
    // One SSUBSCRIBE per channel: channels of one call must share a slot.
    return Promise.all(
      fresh.map((c) =>
        this.cluster.ssubscribe(c).catch((err: unknown) => {
          this.channels.delete(c);
          throw err;
        }),
      ),
    );
  }

  async unsubscribe(...channels: string[]): Promise<unknown> {
    const held = channels.filter((c) => this.channels.delete(c));
    return Promise.all(held.map((c) => this.cluster.sunsubscribe(c)));
  }

  async publish(channel: string, message: string): Promise<number> {
    return Number(await this.cluster.spublish(channel, message));
  }

  on(_event: 'messageBuffer', listener: (channel: Buffer, payload: Buffer) => void): unknown {
    return this.cluster.on('smessageBuffer', listener);
  }
}

class ShardedPubSubLink implements PubSubLink {
  readonly redis: ShardedPubSub;

  constructor(private readonly link: RedisClusterLink) {
    this.redis = new ShardedPubSub(link.redis);
  }

  get up(): boolean {
    return this.link.up;
  }

  get healthy(): boolean {
    return this.link.healthy;
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

/** A pub/sub connection: plain PUBLISH/SUBSCRIBE on one Redis, sharded pub/sub on a cluster. */
export function openPubSub(url: string, role: string, onReady: () => void): PubSubLink {
  const link = openRedis(url, role, onReady);
  if (link instanceof RedisClusterLink) return new ShardedPubSubLink(link);
  return link as RedisLink;
}
