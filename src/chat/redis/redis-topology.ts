/**
 * Where live's Redis lives and what its keys and channels are called there. A single Redis
 * (`redis://`, `rediss://`) keeps the names it always had. A Redis Cluster
 * (`redis+cluster://host:port,host:port`) gets names whose hash tag puts everything of one room on
 * one shard (`{<room>}`: its pub/sub channel and its presence hash), and everything global (the
 * flush barrier, moderation, session ends) on the one slot of `{<prefix>:control}`; pub/sub there is
 * sharded (SSUBSCRIBE/SPUBLISH, Redis ≥ 7.0), so a message touches only its room's shard.
 */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; username?: string; password?: string };

const CLUSTER_SCHEME = 'redis+cluster://';
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])$/;

export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME);
}

/**
 * `redis+cluster://[user:pass@]host:port[,host:port…]` → its seed nodes, or a reason it is not
 * one (a missing or bad port, an empty node, a path or query: a cluster has no database number).
 */
export function parseClusterUrl(url: string): RedisTopology | string {
  if (!isClusterUrl(url)) return 'does not start with redis+cluster://';
  let rest = url.slice(CLUSTER_SCHEME.length);
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const auth = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = auth.indexOf(':');
    try {
      username = decodeURIComponent(colon >= 0 ? auth.slice(0, colon) : auth) || undefined;
      password = colon >= 0 ? decodeURIComponent(auth.slice(colon + 1)) : undefined;
    } catch {
      return 'has a badly escaped user or password';
    }
  }
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (rest === '') return 'names no node';
  const nodes: { host: string; port: number }[] = [];
  for (const node of rest.split(',')) {
    const m = /^(.+):(\d{1,5})$/.exec(node);
    if (!m) return `node "${node}" is not host:port`;
    const port = Number(m[2]);
    if (!HOST.test(m[1])) return `node "${node}" has a bad host`;
    if (port < 1 || port > 65535) return `node "${node}" has a bad port`;
    nodes.push({ host: m[1].replace(/^\[(.*)\]$/, '$1'), port });
  }
  return { kind: 'cluster', nodes, username, password };
}

export function topologyOf(url: string): RedisTopology {
  if (!isClusterUrl(url)) return { kind: 'single', url };
  const parsed = parseClusterUrl(url);
  // The configuration refused a bad one at start-up already.
  if (typeof parsed === 'string') throw new Error(`REDIS_URL ${parsed}`);
  return parsed;
}

/** Every key and channel live uses, for one prefix on one kind of Redis. */
export class RedisNames {
  private readonly control: string;

  constructor(
    readonly prefix: string,
    readonly cluster: boolean,
  ) {
    // REDIS_PREFIX has no braces (A-Za-z0-9:_.-), so these tags are the only ones in a name.
    this.control = cluster ? `{${prefix}:control}` : prefix;
  }

  /** A room's group: `<prefix>:chat:<room>`, on a cluster `<prefix>:chat:{<room>}`. */
  roomChannel(room: string): string {
    return this.cluster ? `${this.prefix}:chat:{${room}}` : `${this.prefix}:chat:${room}`;
  }

  /** The room of a room channel, or null when the channel is not one. */
  roomOf(channel: string): string | null {
    const head = `${this.prefix}:chat:`;
    if (!channel.startsWith(head)) return null;
    const room = channel.slice(head.length);
    if (!this.cluster) return room;
    return room.startsWith('{') && room.endsWith('}') ? room.slice(1, -1) : null;
  }

  /** A room's presence hash, in the same slot as its channel on a cluster. */
  presenceKey(room: string): string {
    return this.cluster ? `${this.prefix}:presence:{${room}}` : `${this.prefix}:presence:${room}`;
  }

  /** Instance heartbeats (one sorted set: one slot wherever it lands). */
  get instancesKey(): string {
    return `${this.prefix}:instances`;
  }

  /** The index of rooms with presence (one set). */
  get presenceRoomsKey(): string {
    return `${this.prefix}:presence-rooms`;
  }

  /** Flush requests, heard by every instance. */
  get flushRequests(): string {
    return `${this.control}:chat-control`;
  }

  /** An instance's own flush acknowledgements. */
  flushReplies(origin: string): string {
    return `${this.control}:chat-control:${origin}`;
  }

  get moderation(): string {
    return `${this.control}:chat-moderation`;
  }

  get sessionsEnded(): string {
    return `${this.control}:chat-control:sessions`;
  }
}
