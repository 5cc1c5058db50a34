import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { InMemoryPresence, PresenceTracker } from '../presence';
import { withDeadline } from '../../common/deadline';
import { CommandLink, openRedis } from './redis-connection';
import { isClusterUrl, RedisNames } from './redis-topology';

/**
 * A presence read from Redis that takes longer is answered from this instance's own copy instead
 * (Redis silent and not yet marked down: /chat/rooms and the presence frame never wait on it).
 */
export const PRESENCE_READ_DEADLINE_MS = 500;

/**
 * Cluster-wide presence. Each room is a Redis hash `<prefix>:presence:<room>` (on a Redis Cluster
 * `<prefix>:presence:{<room>}`, on its room's shard) of
 * `<instance>/<connection>` → name; each instance keeps a heartbeat (a deadline in the sorted set
 * `<prefix>:instances`) that it refreshes every third of REDIS_PRESENCE_TTL_MS. Entries of an
 * instance whose deadline passed (it crashed) are ignored by readers and removed lazily, so they
 * vanish within one TTL. A local copy answers while Redis is down (or slower than
 * PRESENCE_READ_DEADLINE_MS, 'Redis') and is pushed back when it returns. No call waits on Redis for more
 * than its command timeout; a write that failed while Redis looked up gets everything pushed again
 * at the next heartbeat.
 */
export class RedisPresence extends PresenceTracker {
  private readonly logger = new Logger('RedisPresence');
  private readonly link: CommandLink;
  private readonly names: RedisNames;
  /** A join or leave did not reach Redis although it looked up: push the local copy again. */
  private resync = false;
  private readonly local = new InMemoryPresence();
  private readonly base = randomUUID().slice(0, 12);
  private epoch = 0;
  private instanceId = `${this.base}.0`;
  private liveInstances = new Set<string>();
  private liveCheckedAt = 0;
  private heartbeat: NodeJS.Timeout;
  private staleListener: () => void = () => undefined;

  constructor(
    url: string,
    prefix: string,
    private readonly ttlMs: number,
  ) {
    super();
    this.names = new RedisNames(prefix, isClusterUrl(url));
    this.link = openRedis(url, 'presence', () => void this.onReady());
    this.heartbeat = setInterval(() => void this.beat(), Math.max(200, Math.floor(ttlMs / 3)));
    this.heartbeat.unref();
  }

  private get instancesKey(): string {
    return this.names.instancesKey;
  }
  private get roomsKey(): string {
    return this.names.presenceRoomsKey;
  }
  private roomKey(room: string): string {
    return this.names.presenceKey(room);
  }
  private get up(): boolean {
    return this.link.up;
  }
  private get redis() {
    return this.link.redis;
  }

  override onStale(listener: () => void): void {
    this.staleListener = listener;
  }

  async join(room: string, connectionId: string, name: string): Promise<void> {
    await this.local.join(room, connectionId, name);
    if (!this.up) return;
    // Two plain commands rather than MULTI: auto-pipelining batches them with the other joins of
    // the same turn. The rooms set is only an index; onReady rewrites both after an outage.
    await Promise.all([
      this.redis.hset(this.roomKey(room), `${this.instanceId}/${connectionId}`, name),
      this.redis.sadd(this.roomsKey, room),
    ]).catch(() => (this.resync = true));
  }

  async leave(room: string, connectionId: string): Promise<void> {
    await this.local.leave(room, connectionId);
    if (!this.up) return;
    await this.redis
      .hdel(this.roomKey(room), `${this.instanceId}/${connectionId}`)
      .catch(() => (this.resync = true));
  }

  async members(room: string): Promise<string[]> {
    if (!this.up) return this.local.members(room);
    return withDeadline(this.clusterMembers(room), PRESENCE_READ_DEADLINE_MS, 'Redis').catch(() =>
      this.local.members(room),
    );
  }

  async rooms(): Promise<{ room: string; members: number }[]> {
    if (!this.up) return this.local.rooms();
    return withDeadline(this.clusterRooms(), PRESENCE_READ_DEADLINE_MS, 'Redis').catch(() =>
      this.local.rooms(),
    );
  }

  private async clusterMembers(room: string): Promise<string[]> {
    const [entries, live] = await Promise.all([this.redis.hgetall(this.roomKey(room)), this.live()]);
    return await this.liveNames(room, entries, live);
  }

  private async clusterRooms(): Promise<{ room: string; members: number }[]> {
    const [rooms, live] = await Promise.all([this.redis.smembers(this.roomsKey), this.live()]);
    if (rooms.length === 0) return [];
    // One HGETALL per room, not one pipeline: on a cluster the rooms are on several shards.
    // Auto-pipelining sends those of one turn in one write per node all the same.
    const results = await Promise.all(rooms.map((room) => this.redis.hgetall(this.roomKey(room))));
    const out: { room: string; members: number }[] = [];
    for (const [i, room] of rooms.entries()) {
      const entries = results[i] ?? {};
      const names = await this.liveNames(room, entries, live);
      if (names.length > 0) out.push({ room, members: names.length });
      else if (Object.keys(entries).length === 0)
        void this.redis.srem(this.roomsKey, room).catch(() => undefined);
    }
    return out;
  }

  override async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.up) {
      // A clean stop removes this instance's entries at once instead of waiting for the TTL.
      const removals: Promise<unknown>[] = [this.redis.zrem(this.instancesKey, this.instanceId)];
      for (const { room } of await this.local.rooms()) {
        const fields = (await this.local.connections(room)).map((c) => `${this.instanceId}/${c}`);
        if (fields.length > 0) removals.push(this.redis.hdel(this.roomKey(room), ...fields));
      }
      await withDeadline(Promise.all(removals), 1000, 'Redis').catch(() => undefined);
    }
    await this.link.close();
  }

  /**
   * Names of entries whose instance is alive. An entry of an instance this one has not seen yet
   * gets a fresh look at the heartbeats first (it may have just started); entries whose instance
   * is still unknown then are a dead instance's and are removed on the way.
   */
  private async liveNames(
    room: string,
    entries: Record<string, string>,
    live: Set<string>,
  ): Promise<string[]> {
    const instanceOf = (field: string) => field.slice(0, field.indexOf('/'));
    const known = (instance: string) => instance === this.instanceId || live.has(instance);
    if (Object.keys(entries).some((field) => !known(instanceOf(field)))) {
      await this.refreshLive();
      live = this.liveInstances;
    }
    const names: string[] = [];
    const dead: string[] = [];
    for (const [field, name] of Object.entries(entries)) {
      if (known(instanceOf(field))) names.push(name);
      else dead.push(field);
    }
    if (dead.length > 0) void this.redis.hdel(this.roomKey(room), ...dead).catch(() => undefined);
    return names;
  }

  private async live(): Promise<Set<string>> {
    if (Date.now() - this.liveCheckedAt > Math.min(1000, this.ttlMs / 3)) await this.refreshLive();
    return this.liveInstances;
  }

  private async refreshLive(): Promise<void> {
    const now = Date.now();
    const ids = await this.redis.zrangebyscore(this.instancesKey, now, '+inf');
    const next = new Set(ids);
    const someoneLeft = [...this.liveInstances].some((id) => !next.has(id));
    this.liveInstances = next;
    this.liveCheckedAt = now;
    // An instance vanished (crash or stop): rooms here should hear the new member list.
    if (someoneLeft) this.staleListener();
  }

  private async beat(): Promise<void> {
    if (!this.up) return;
    if (this.resync) {
      this.resync = false;
      await this.onReady();
      return;
    }
    try {
      const now = Date.now();
      await this.redis
        .multi()
        .zadd(this.instancesKey, now + this.ttlMs, this.instanceId)
        .zremrangebyscore(this.instancesKey, '-inf', now)
        .exec();
      await this.refreshLive();
    } catch (err) {
      this.logger.warn({ event: 'presence_heartbeat_failed', error: (err as Error).message });
    }
  }

  /**
   * (Re)connected: start afresh under a new instance id (entries written before the outage may be
   * stale) and push what this instance holds now.
   */
  private async onReady(): Promise<void> {
    const previous = this.instanceId;
    this.instanceId = `${this.base}.${++this.epoch}`;
    try {
      const now = Date.now();
      // Per key, not one MULTI: on a cluster the keys are on several shards. Each write is its own
      // (the rooms set is an index; a failed one makes the next heartbeat push everything again).
      const writes: Promise<unknown>[] = [
        this.redis
          .multi()
          .zrem(this.instancesKey, previous)
          .zadd(this.instancesKey, now + this.ttlMs, this.instanceId)
          .exec(),
      ];
      for (const { room } of await this.local.rooms()) {
        const members = await this.local.entries(room);
        const fields = members.flatMap(([connectionId, name]) => [
          `${this.instanceId}/${connectionId}`,
          name,
        ]);
        if (fields.length > 0) writes.push(this.redis.hset(this.roomKey(room), ...fields));
        writes.push(this.redis.sadd(this.roomsKey, room));
      }
      await Promise.all(writes);
      await this.refreshLive();
      this.staleListener();
    } catch (err) {
      this.resync = true; // tried again at the next heartbeat while Redis looks up
      this.logger.warn({ event: 'presence_restore_failed', error: (err as Error).message });
    }
  }
}
