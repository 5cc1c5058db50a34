import { Logger } from '@nestjs/common';
import { Writable } from 'node:stream';
import Redis, { Cluster } from 'ioredis';
import { withDeadline } from '../../common/deadline';
import { topologyOf } from './redis-topology';

/** Reconnect delays: 100 ms doubling up to 5 s, forever (Redis may be down for a while). */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 10), 5000);
}

/**
 * How a connection notices a Redis that stops answering without closing the connection (a
 * black-holed network: no RST, no FIN, TCP keepalive takes minutes): a PING every `intervalMs`,
 * each given `intervalMs` to answer; after `missesAllowed` misses in a row the connection is
 * reported down (`redis_down`) and dropped, and ioredis reconnects with its backoff. With the
 * defaults Redis is marked down 2-3 s after it went silent.
 */
export interface RedisTimings {
  /** ioredis `commandTimeout` (not on the subscriber: its calls are bounded by their callers). */
  commandTimeoutMs: number;
  heartbeatIntervalMs: number;
  missesAllowed: number;
  /** A reconnect that has not become ready (TCP open, no answer to the ready check) is retried after this. */
  stuckConnectMs: number;
  /** TCP keepalive's first probe after this much idle time. */
  keepAliveMs: number;
}

export const REDIS_TIMINGS: RedisTimings = {
  commandTimeoutMs: 2000,
  heartbeatIntervalMs: 1000,
  missesAllowed: 2,
  stuckConnectMs: 5000,
  keepAliveMs: 5000,
};

/**
 * One ioredis connection with the habits cluster mode needs: no offline queue (a command while
 * Redis is down fails at once instead of piling up in memory), command timeouts, TCP keepalive, a
 * heartbeat that notices a silent Redis, reconnect with backoff, and one log line when the
 * connection goes down and one when it comes back, however many retries in between.
 */
export class RedisLink {
  readonly redis: Redis;
  private readonly logger = new Logger('Redis');
  private down = false;
  private everReady = false;
  /** Set by the heartbeat: the connection looks open but Redis does not answer. */
  private silent = false;
  private misses = 0;
  private pinging = false;
  private notReadySince = Date.now();
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly role: string,
    onReady?: () => void,
    private readonly timings: RedisTimings = REDIS_TIMINGS,
  ) {
    const subscriber = role.endsWith('subscriber'); // the channel layer's, the session-end bus's
    this.redis = new Redis(url, {
      enableOfflineQueue: false,
      // Commands issued in one event-loop turn leave in one write (a burst of connections joining
      // presence) instead of one round trip each. The channel layer's publisher batches its turn's
      // writes itself (holdWritesForTurn): autopipelining cost it a Pipeline, a result array and
      // a nextTick per batch, the most it allocated per message after the fan-out.
      enableAutoPipelining: role === 'presence',
      autoResubscribe: false,
      // A command that timed out is not sent again after a reconnect: presence is rewritten whole
      // on (re)connect, subscriptions are restored by their owner, and a publish reported lost
      // must not arrive minutes later.
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 3000,
      // In subscriber mode replies are not one per command (messages arrive unasked), and a
      // SUBSCRIBE that timed out would still be answered; its callers bound their own waits.
      ...(subscriber ? {} : { commandTimeout: timings.commandTimeoutMs }),
      keepAlive: timings.keepAliveMs,
      retryStrategy: reconnectDelay,
      lazyConnect: false,
    });
    this.redis.on('error', (err: Error) => this.markDown(err.message));
    this.redis.on('close', () => {
      this.notReadySince = Date.now();
      // Closed by close() (shutdown): not an outage, nothing to log.
      if (this.everReady && !this.closed) this.markDown('connection closed');
    });
    this.redis.on('ready', () => {
      if (this.down) this.logger.log({ event: 'redis_up', role, url: redactUrl(url) });
      this.down = false;
      this.silent = false;
      this.misses = 0;
      this.everReady = true;
      onReady?.();
    });
    this.heartbeat = setInterval(() => this.beat(), timings.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** The connection's socket while this turn's writes are held (see holdWritesForTurn). */
  private heldStream: Writable | null = null;

  /**
   * Holds what is written to the connection until the end of this event-loop turn, then sends it
   * in one write: the turn's publishes cost one syscall, and one wake-up of Redis. Unlike
   * autopipelining, commands still go one by one through ioredis's queue, their replies in order.
   */
  holdWritesForTurn(): void {
    if (this.heldStream) return;
    const stream = (this.redis as unknown as { stream?: unknown }).stream;
    if (!(stream instanceof Writable)) return;
    stream.cork();
    this.heldStream = stream;
    setImmediate(() => {
      this.heldStream = null;
      stream.uncork(); // a stream closed meanwhile: its commands fail through ioredis as they would have
    });
  }

  /** Ready and answering its heartbeat. */
  get up(): boolean {
    return this.redis.status === 'ready' && !this.silent;
  }

  private markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.logger.error({ event: 'redis_down', role: this.role, url: redactUrl(this.url), error: reason });
  }

  private beat(): void {
    if (this.closed) return;
    const status = this.redis.status;
    if (status !== 'ready') {
      // TCP connected but the ready check unanswered (Redis black-holed during a reconnect):
      // start over rather than wait for the kernel to give up on the connection.
      if (
        (status === 'connect' || status === 'connecting') &&
        Date.now() - this.notReadySince > this.timings.stuckConnectMs
      ) {
        this.notReadySince = Date.now();
        this.redis.disconnect(true);
      }
      return;
    }
    this.notReadySince = Date.now();
    if (this.pinging) return; // the previous PING is still out; its deadline counts the miss
    this.pinging = true;
    withDeadline(this.redis.ping(), this.timings.heartbeatIntervalMs, 'Redis')
      .then(
        () => {
          this.misses = 0;
          this.silent = false;
        },
        (err: Error) => this.missed(err),
      )
      .finally(() => (this.pinging = false));
  }

  private missed(err: Error): void {
    if (this.closed || this.redis.status !== 'ready') return;
    this.misses++;
    if (this.misses < this.timings.missesAllowed) return;
    this.silent = true;
    this.misses = 0;
    this.markDown(`no answer to PING (${err.message})`);
    // Drop the silent connection: ioredis reconnects with its backoff, and 'ready' restores
    // subscriptions and presence once Redis answers again.
    this.redis.disconnect(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    await closeRedis(this.redis);
  }
}

/** What presence uses of a connection: a RedisLink, or a RedisClusterLink on a cluster. */
export interface CommandLink {
  readonly up: boolean;
  readonly redis: Redis | Cluster;
  close(): Promise<void>;
}

/** Opens a connection (see RedisLink), to a cluster when `url` names one (see RedisClusterLink). */
export function openRedis(url: string, role: string, onReady?: () => void): CommandLink {
  return topologyOf(url).kind === 'cluster'
    ? new RedisClusterLink(url, role, onReady)
    : new RedisLink(url, role, onReady);
}

/**
 * ioredis's Cluster client with RedisLink's habits: no offline queue, command timeouts, TCP
 * keepalive, reconnect with backoff, one `redis_down` line per outage and one `redis_up`. It
 * follows the cluster by itself (MOVED, a replica promoted, a master back); the subscriber role
 * uses sharded pub/sub, one connection per master, restored by ioredis after a topology change.
 *
 * `up` (the client has the cluster's slot map and is connected) lets commands go: those for a
 * healthy shard succeed while another shard is down. `healthy` also wants every master to answer
 * the heartbeat's PING: while one does not (killed, not yet replaced), the layer reports Redis down
 * in /health, as for a single Redis. `onReady` runs on every connect and again when every master
 * answers after an outage (the client itself may have stayed connected to the other shards).
 */
export class RedisClusterLink implements CommandLink {
  readonly redis: Cluster;
  private readonly logger = new Logger('Redis');
  private down = false;
  private everReady = false;
  private readonly misses = new Map<string, number>();
  private missing = false;
  private pinging = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly url: string,
    private readonly role: string,
    private readonly onReady: () => void = () => undefined,
    private readonly timings: RedisTimings = REDIS_TIMINGS,
  ) {
    const topology = topologyOf(url);
    if (topology.kind !== 'cluster') throw new Error('not a cluster URL');
    const subscriber = role.endsWith('subscriber');
    this.redis = new Cluster(topology.nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: role === 'publisher' || role === 'presence',
      shardedSubscribers: subscriber,
      clusterRetryStrategy: reconnectDelay,
      // A command for a shard whose master went away fails at once (its caller counts it) instead
      // of waiting in ioredis's failover queue: a publish retried after later ones would arrive out
      // of order, and one reported lost must not arrive later. MOVED is still followed at once.
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      maxRedirections: 8,
      slotsRefreshTimeout: 1000,
      slotsRefreshInterval: 2000,
      redisOptions: {
        username: topology.username,
        password: topology.password,
        autoResubscribe: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 3000,
        ...(subscriber ? {} : { commandTimeout: timings.commandTimeoutMs }),
        keepAlive: timings.keepAliveMs,
      },
    });
    this.redis.on('error', (err: Error) => this.markDown(err.message));
    this.redis.on('node error', (err: Error, node: string) => this.markDown(`${node}: ${err.message}`));
    this.redis.on('close', () => {
      if (this.everReady && !this.closed) this.markDown('connection closed');
    });
    this.redis.on('ready', () => {
      this.everReady = true;
      this.markUp();
      this.onReady();
    });
    this.heartbeat = setInterval(() => this.beat(), timings.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  get up(): boolean {
    return this.redis.status === 'ready';
  }

  /** Up, and every master known to the client answered its last PINGs. */
  get healthy(): boolean {
    return this.up && !this.missing;
  }

  private markDown(reason: string): void {
    if (this.down) return;
    this.down = true;
    this.logger.error({ event: 'redis_down', role: this.role, url: redactUrl(this.url), error: reason });
  }

  private markUp(): void {
    if (this.down) this.logger.log({ event: 'redis_up', role: this.role, url: redactUrl(this.url) });
    this.down = false;
  }

  /**
   * PINGs the master of every slot range the client knows. A master whose connection is gone (the
   * client drops a dead node's connection, then adds it back at the next slot refresh) counts as a
   * miss like one that does not answer: only the slot map says which masters must be there.
   */
  private beat(): void {
    if (!this.up || this.pinging) return;
    const masters = new Set<string>();
    for (const owners of this.redis.slots) if (owners?.[0]) masters.add(owners[0]);
    if (masters.size === 0) return;
    const connected = new Map(
      this.redis.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n]),
    );
    this.pinging = true;
    const miss = (key: string, reason: string) => {
      const n = (this.misses.get(key) ?? 0) + 1;
      this.misses.set(key, n);
      if (n >= this.timings.missesAllowed) this.markDown(`${key}: ${reason}`);
    };
    Promise.all(
      [...masters].map((key) => {
        const node = connected.get(key);
        if (!node) return miss(key, 'not connected');
        return withDeadline(node.ping(), this.timings.heartbeatIntervalMs, 'Redis').then(
          () => this.misses.delete(key),
          (err: Error) => miss(key, err.message),
        );
      }),
    )
      .then(() => {
        for (const key of [...this.misses.keys()]) if (!masters.has(key)) this.misses.delete(key);
        this.missing = [...this.misses.values()].some((n) => n >= this.timings.missesAllowed);
        // Every master answers again (a replica promoted, the master back): what the owner does
        // after a reconnect (report what was lost, push presence again, resync rules) is due now.
        if (!this.missing && this.up && this.down) {
          this.markUp();
          this.onReady();
        }
      })
      .finally(() => (this.pinging = false));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    try {
      if (this.redis.status === 'ready') await withDeadline(this.redis.quit(), 1000, 'Redis');
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** QUIT if Redis answers within a second, otherwise just drop the connection. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'ready') await withDeadline(redis.quit(), 1000, 'Redis');
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
