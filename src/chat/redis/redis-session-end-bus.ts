import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { SessionsEnded } from '../../auth/session-events';
import { SESSION_KEY_PATTERN } from '../../auth/session.store';
import { tokenIdOfCredentialKey } from '../../auth/tokens/scopes';
import { withDeadline } from '../../common/deadline';
import { SessionEndBus, SessionsEndedHandler } from '../session-end-bus';
import { OpenLink, openPubSub, PubSubLink } from './redis-pubsub';
import { isClusterUrl, RedisNames } from './redis-topology';

/** A SUBSCRIBE that takes longer is retried at the next (re)connect. */
const SUBSCRIBE_DEADLINE_MS = 1000;
/** A staff "log out everywhere" of a user with very many sessions still fits; more is not one of ours. */
const MAX_KEYS = 100_000;
const MAX_PAYLOAD = MAX_KEYS * 40;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INT4_MAX = 2_147_483_647;

/** What travels on `<prefix>:chat-control:sessions`. */
export interface SessionsEndedEnvelope {
  type: 'sessions.ended';
  /** The instance that published: it has acted already and ignores its own echo. */
  from: string;
  keys: string[];
  users: number[];
}

/**
 * An envelope as received from Redis, or null when it is not exactly one: it comes from outside,
 * so a malformed or forged one closes nothing.
 */
export function parseSessionsEnded(payload: string): SessionsEndedEnvelope | null {
  if (payload.length > MAX_PAYLOAD) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, from, keys, users } = value as Record<string, unknown>;
  if (type !== 'sessions.ended' || typeof from !== 'string' || !UUID.test(from)) return null;
  if (!Array.isArray(keys) || keys.length > MAX_KEYS) return null;
  // Session keys, and `token:<id>` for the sockets of an API token (a revocation ends those).
  const known = (k: unknown) =>
    typeof k === 'string' && (SESSION_KEY_PATTERN.test(k) || tokenIdOfCredentialKey(k) !== null);
  if (!keys.every(known)) return null;
  if (!Array.isArray(users) || users.length > MAX_KEYS) return null;
  if (!users.every((u) => Number.isInteger(u) && (u as number) >= 1 && (u as number) <= INT4_MAX))
    return null;
  return { type, from, keys: keys as string[], users: users as number[] };
}

/**
 * The session-end bus over Redis pub/sub: one channel, `<prefix>:chat-control:sessions`, that
 * every instance subscribes to, on two connections of its own (room traffic and the flush barrier
 * use the channel layer's); on a cluster, sharded pub/sub on `{<prefix>:control}:chat-control:sessions`.
 * Pub/sub is fire-and-forget: what is published while an instance is
 * disconnected is lost for it, and its periodic re-check finds those sessions ended instead.
 */
export class RedisSessionEndBus extends SessionEndBus {
  private readonly logger = new Logger('SessionEndBus');
  readonly origin = randomUUID();
  readonly channel: string;
  private readonly publisher: PubSubLink;
  private readonly subscriber: PubSubLink;
  private handler: SessionsEndedHandler = () => undefined;

  constructor(url: string, prefix: string, open: OpenLink = openPubSub) {
    super();
    this.channel = new RedisNames(prefix, isClusterUrl(url)).sessionsEnded;
    this.publisher = open(url, 'sessions publisher', () => undefined);
    this.subscriber = open(url, 'sessions subscriber', () => this.subscribe());
    this.subscriber.redis.on('messageBuffer', (channel: Buffer, payload: Buffer) =>
      this.receive(channel.toString('utf8'), payload.toString('utf8')),
    );
  }

  publish(ended: SessionsEnded): void {
    const envelope: SessionsEndedEnvelope = {
      type: 'sessions.ended',
      from: this.origin,
      keys: [...(ended.sessionKeys ?? [])],
      users: [...(ended.userIds ?? [])],
    };
    if (!this.publisher.up) {
      this.logger.warn({ event: 'session_end_not_relayed', reason: 'redis down' });
      return;
    }
    this.publisher.redis
      .publish(this.channel, JSON.stringify(envelope))
      .catch((err: Error) => this.logger.warn({ event: 'session_end_not_relayed', reason: err.message }));
  }

  setHandler(handler: SessionsEndedHandler): void {
    this.handler = handler;
  }

  override async close(): Promise<void> {
    await Promise.all([this.subscriber.close(), this.publisher.close()]);
  }

  private subscribe(): void {
    withDeadline(this.subscriber.redis.subscribe(this.channel), SUBSCRIBE_DEADLINE_MS, 'Redis').catch(
      (err: Error) =>
        this.logger.error({ event: 'redis_subscribe_failed', channel: this.channel, error: err.message }),
    );
  }

  private receive(channel: string, payload: string): void {
    if (channel !== this.channel) return;
    const envelope = parseSessionsEnded(payload);
    if (!envelope) {
      this.logger.warn({ event: 'redis_bad_control', channel });
      return;
    }
    if (envelope.from === this.origin) return;
    this.handler({ sessionKeys: envelope.keys, userIds: envelope.users });
  }
}
