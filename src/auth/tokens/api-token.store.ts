import { createHash, randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { AuthError } from '../auth.exception';
import { SessionEvents } from '../session-events';
import { User } from '../user.entity';
import { ApiToken } from './api-token.entity';
import { ApiTokenIdentity, isTokenScope, TokenScope, tokenCredentialKey } from './scopes';

/** `live_` and 43 base64url characters (32 random bytes): recognisable to secret scanners. */
export const TOKEN_KEY_PATTERN = /^live_[A-Za-z0-9_-]{43}$/;
const PREFIX_CHARS = 13;
/** last_used_at is written at most this often per token: not a database write per request. */
const TOUCH_EVERY_MS = 60_000;

export function hashTokenKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function newTokenKey(): string {
  return `live_${randomBytes(32).toString('base64url')}`;
}

/** What the Authorization header says: no token scheme (null), a malformed one, or a key to look up. */
export type AuthorizationToken = null | { malformed: string } | { key: string };

/**
 * `Authorization: Token <key>` (Django REST framework's header) or `Bearer <key>`. Other schemes
 * (Basic…) are not live's and are ignored, as DRF's TokenAuthentication ignores them.
 */
export function parseAuthorization(header: string | string[] | undefined): AuthorizationToken {
  if (header === undefined) return null;
  if (Array.isArray(header)) return { malformed: 'Invalid token header. Sent more than once.' };
  const parts = header.trim().split(/\s+/);
  const scheme = parts[0]?.toLowerCase();
  if (scheme !== 'token' && scheme !== 'bearer') return null;
  if (parts.length === 1) return { malformed: 'Invalid token header. No credentials provided.' };
  if (parts.length > 2) return { malformed: 'Invalid token header. Token string should not contain spaces.' };
  return { key: parts[1] };
}

export interface TokenView {
  id: number;
  name: string;
  /** The key's first characters, to tell tokens apart (the key itself is never shown again). */
  prefix: string;
  scopes: TokenScope[];
  user: { id: number; username: string };
  createdAt: string;
  createdBy: number | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  expired: boolean;
}

export interface NewToken {
  user: User;
  name: string;
  scopes: readonly TokenScope[];
  /** null: never expires. */
  expiresInDays: number | null;
  /** Staff making a service token for another user; null for the user's own. */
  createdBy: User | null;
}

export interface TokenLogin {
  user: User;
  token: ApiTokenIdentity;
}

/** Scopes that reach staff-only endpoints: only a staff user's token may carry them. */
export const STAFF_SCOPES: readonly TokenScope[] = [
  'admin:users',
  'admin:certs',
  'admin:vpn',
  'admin:alerts',
];

export function scopesOf(token: Pick<ApiToken, 'scopes'>): TokenScope[] {
  return token.scopes.split(' ').filter(isTokenScope);
}

/**
 * API tokens: made (the key shown once, its SHA-256 kept), listed, revoked, and looked up on every
 * request that carries one. Nothing about a token is cached between requests: a revoked token, an
 * expired one or a deactivated user is refused by the very next request, on every instance (open
 * sockets are closed through SessionEvents and the chat's re-check).
 */
@Injectable()
export class ApiTokenStore {
  private readonly logger = new Logger('ApiTokens');
  private readonly touched = new Map<number, number>();

  constructor(
    @InjectRepository(ApiToken) private readonly tokens: Repository<ApiToken>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly events: SessionEvents,
  ) {}

  async create(spec: NewToken): Promise<{ key: string; token: TokenView }> {
    const staffScopes = spec.scopes.filter((s) => STAFF_SCOPES.includes(s));
    if (staffScopes.length > 0 && !spec.user.isStaff)
      throw new AuthError('invalid', `${staffScopes.join(', ')} can only be given to staff users`);
    if (!spec.user.isActive) throw new AuthError('invalid', `user "${spec.user.username}" is not active`);
    const key = newTokenKey();
    const now = new Date();
    const row = await this.tokens.save(
      this.tokens.create({
        userId: spec.user.id,
        name: spec.name,
        keyPrefix: key.slice(0, PREFIX_CHARS),
        keyHash: hashTokenKey(key),
        scopes: [...new Set(spec.scopes)].join(' '),
        createdAt: now,
        createdById: spec.createdBy?.id ?? null,
        expiresAt:
          spec.expiresInDays === null ? null : new Date(now.getTime() + spec.expiresInDays * 86_400_000),
        lastUsedAt: null,
      }),
    );
    this.logger.log({
      event: 'api_token_created',
      token: row.id,
      user: spec.user.username,
      by: spec.createdBy?.username ?? spec.user.username,
      scopes: row.scopes,
    });
    return { key, token: this.view(row, spec.user) };
  }

  /** A user's tokens, or everyone's (userId undefined), newest first. */
  async list(userId?: number): Promise<TokenView[]> {
    const rows = await this.tokens.find({
      where: userId === undefined ? {} : { userId },
      order: { id: 'DESC' },
      take: 1000,
    });
    const owners = await this.users.find({ where: { id: In([...new Set(rows.map((r) => r.userId))]) } });
    const byId = new Map(owners.map((u) => [u.id, u]));
    return rows.map((r) => this.view(r, byId.get(r.userId)));
  }

  async get(id: number): Promise<ApiToken | null> {
    return this.tokens.findOneBy({ id });
  }

  /** Deletes the token; its requests stop at once and its sockets are closed on every instance. */
  async revoke(token: ApiToken, by: User | string): Promise<void> {
    await this.tokens.delete({ id: token.id });
    this.touched.delete(token.id);
    this.logger.log({
      event: 'api_token_revoked',
      token: token.id,
      user: token.userId,
      by: typeof by === 'string' ? by : by.username,
    });
    this.events.ended({ sessionKeys: [tokenCredentialKey(token.id)] });
  }

  /** The token's user and scopes, or null for an unknown or expired key or an inactive user. */
  async authenticate(key: string): Promise<TokenLogin | null> {
    if (!TOKEN_KEY_PATTERN.test(key)) return null;
    const token = await this.tokens.findOneBy({ keyHash: hashTokenKey(key) });
    if (!token || (token.expiresAt && token.expiresAt.getTime() <= Date.now())) return null;
    const user = await this.users.findOneBy({ id: token.userId });
    if (!user?.isActive) return null;
    this.touch(token);
    return { user, token: { id: token.id, scopes: scopesOf(token) } };
  }

  /**
   * For the chat's periodic re-check of open sockets: whose each token still is (null: revoked,
   * expired, or its user inactive). Two queries for all of them.
   */
  async holders(ids: readonly number[]): Promise<Map<number, number | null>> {
    const out = new Map<number, number | null>(ids.map((id) => [id, null]));
    if (ids.length === 0) return out;
    const rows = await this.tokens.find({ where: { id: In([...ids]) } });
    const now = Date.now();
    const live = rows.filter((r) => !r.expiresAt || r.expiresAt.getTime() > now);
    const users = await this.users.find({
      where: { id: In([...new Set(live.map((r) => r.userId))]) },
      select: { id: true, isActive: true },
    });
    const active = new Set(users.filter((u) => u.isActive).map((u) => u.id));
    for (const r of live) if (active.has(r.userId)) out.set(r.id, r.userId);
    return out;
  }

  private touch(token: ApiToken): void {
    const now = Date.now();
    if (now - (this.touched.get(token.id) ?? 0) < TOUCH_EVERY_MS) return;
    this.touched.set(token.id, now);
    if (this.touched.size > 100_000) this.touched.clear();
    this.tokens
      .update({ id: token.id }, { lastUsedAt: new Date(now) })
      .catch((err: Error) =>
        this.logger.warn({ event: 'api_token_touch_failed', token: token.id, error: err.message }),
      );
  }

  private view(row: ApiToken, owner: User | undefined): TokenView {
    return {
      id: row.id,
      name: row.name,
      prefix: row.keyPrefix,
      scopes: scopesOf(row),
      user: { id: row.userId, username: owner?.username ?? '' },
      createdAt: row.createdAt.toISOString(),
      createdBy: row.createdById,
      expiresAt: row.expiresAt?.toISOString() ?? null,
      lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
      expired: row.expiresAt !== null && row.expiresAt.getTime() <= Date.now(),
    };
  }
}
