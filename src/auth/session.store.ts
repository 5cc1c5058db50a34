import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, LessThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app.config';
import {
  SESSION_SALT,
  sessionAuthHash,
  sessionAuthHashMatches,
  signObject,
  unsignObject,
} from './django-signing';
import { SessionEvents } from './session-events';
import { Session } from './session.entity';
import { User } from './user.entity';

const KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const SESSION_KEY_PATTERN = /^[a-z0-9]{32}$/;

/** Django's session key: 32 characters of [a-z0-9] from a CSPRNG. */
export function newSessionKey(): string {
  const bytes = randomBytes(64);
  let key = '';
  for (let i = 0; i < bytes.length && key.length < 32; i++) {
    if (bytes[i] < 252) key += KEY_ALPHABET[bytes[i] % 36]; // 252 = 7 × 36: no modulo bias
  }
  return key.length === 32 ? key : newSessionKey();
}

/**
 * The session field naming the two-factor device whose code the login passed, as django-otp keeps
 * `otp_device_id` (a name of live's own, so a site running django-otp does not misread it).
 */
export const OTP_DEVICE_SESSION_KEY = 'live_otp_device_id';

/** Rows read per page when looking for a user's sessions (endAllOf). */
const SCAN_PAGE = 1000;
/** Sessions verified (HMACs, maybe zlib) between two turns of the event loop. */
const VERIFY_BATCH = 200;

/** A session row recheck() verified: its data, whose it is, and the password hash it matched. */
interface VerifiedSession {
  /** session_data, or its md5 on PostgreSQL: what tells a changed row. */
  fingerprint: string;
  userId: number;
  authHash: unknown;
  password: string | null;
}

/** The backend Django records for a password login (live checks passwords the same way). */
const MODEL_BACKEND = 'django.contrib.auth.backends.ModelBackend';

/**
 * Database-backed sessions, laid out like django_session, with `session_data` signed exactly as
 * Django's SessionStore writes it (django-signing.ts): Django reads live's sessions and live reads
 * Django's. A session is tied to the password hash (`_auth_user_hash`), so a password change on
 * either side ends the sessions made before it, and so does deactivating the user: like Django,
 * live does not go looking for a user's sessions (whose a session is lives only in its signed
 * data), it refuses them on use; clearsessions (purgeExpired) removes them once expired.
 */
@Injectable()
export class SessionStore {
  private readonly logger = new Logger('Sessions');
  /** What recheck() verified last time, per key: a row and a password unchanged since need no HMAC. */
  private verified = new Map<string, VerifiedSession>();

  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly config: AppConfig,
    private readonly events: SessionEvents,
  ) {}

  /** `otpDeviceId`: the two-factor device whose code this login passed (see OTP_DEVICE_SESSION_KEY). */
  async create(user: User, otpDeviceId: number | null = null): Promise<Session> {
    const session = this.sessions.create({
      sessionKey: newSessionKey(),
      sessionData: this.encode(user, otpDeviceId),
      expireDate: new Date(Date.now() + this.config.sessionCookieAge * 1000),
    });
    await this.sessions.insert(session);
    return session;
  }

  /**
   * The active user a session key belongs to, or null: unknown, expired, signed with no key live
   * knows, made before the user's last password change, or the user is inactive. As in Django, a
   * session that does not verify is simply anonymous.
   */
  async userFor(sessionKey: string | undefined): Promise<User | null> {
    return (await this.resolve(sessionKey))?.user ?? null;
  }

  /** userFor, with the two-factor device the session passed (null: a password-only session). */
  async resolve(sessionKey: string | undefined): Promise<{ user: User; otpDeviceId: number | null } | null> {
    if (!sessionKey || !SESSION_KEY_PATTERN.test(sessionKey)) return null;
    const session = await this.sessions.findOneBy({ sessionKey });
    if (!session || session.expireDate.getTime() <= Date.now()) return null;
    const fields = this.fieldsOf(session.sessionData);
    const userId = fields ? sessionUserId(fields) : null;
    if (!fields || !userId) return null; // unverifiable, or an anonymous Django session
    const user = await this.users.findOneBy({ id: userId });
    if (!user || !user.isActive) return null;
    if (!sessionAuthHashMatches(fields._auth_user_hash, user.password, this.keys())) return null;
    const otpDeviceId = Number(fields[OTP_DEVICE_SESSION_KEY]);
    return { user, otpDeviceId: Number.isSafeInteger(otpDeviceId) && otpDeviceId > 0 ? otpDeviceId : null };
  }

  /** session_data for a new login, as Django's login() leaves it. */
  private encode(user: User, otpDeviceId: number | null): string {
    return signObject(
      {
        _auth_user_id: String(user.id),
        _auth_user_backend: MODEL_BACKEND,
        _auth_user_hash: sessionAuthHash(user.password, this.config.secretKey),
        ...(otpDeviceId ? { [OTP_DEVICE_SESSION_KEY]: String(otpDeviceId) } : {}),
      },
      this.config.secretKey,
      SESSION_SALT,
    );
  }

  private keys(): readonly string[] {
    return [this.config.secretKey, ...this.config.secretKeyFallbacks];
  }

  async delete(sessionKey: string): Promise<void> {
    await this.sessions.delete({ sessionKey });
    this.events.ended({ sessionKeys: [sessionKey] });
  }

  /**
   * Staff's "log out everywhere": deletes every session of a user, Django's as well as live's, and
   * returns how many. django_session has no user column (whose a session is lives only in its
   * signed data), so the unexpired rows are read a page at a time and decoded, as Django's own
   * recipes do; the event loop gets a turn between pages. A session made while it runs survives.
   */
  async endAllOf(userId: number): Promise<number> {
    const keys: string[] = [];
    let after = '';
    const now = new Date();
    for (;;) {
      const page = await this.sessions
        .createQueryBuilder('s')
        .where('s.session_key > :after', { after })
        .andWhere('s.expire_date > :now', { now })
        .orderBy('s.session_key')
        .limit(SCAN_PAGE)
        .getMany();
      for (const row of page) if (this.claimOf(row.sessionData)?.userId === userId) keys.push(row.sessionKey);
      if (page.length < SCAN_PAGE) break;
      after = page[page.length - 1].sessionKey;
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < keys.length; i += SCAN_PAGE)
      await this.sessions.delete({ sessionKey: In(keys.slice(i, i + SCAN_PAGE)) });
    this.events.ended({ sessionKeys: keys });
    return keys.length;
  }

  /**
   * Which of these sessions still hold, in few queries however many they are (the chat re-checks
   * the sessions behind its open sockets about every second): key → the id of the active user it
   * belongs to, or null where resolve() would now answer anonymous (row deleted or expired, data
   * that does not verify, another password, an inactive or deleted user). Cheap when nothing
   * changed: one read of each row's fingerprint (PostgreSQL sends an md5 of session_data, not the
   * data) and one of the users, then string comparisons with what the previous call verified; only
   * new or changed rows are read in full and verified (HMACs). It has one caller, the chat's
   * SessionWatch: what a call verified is kept for the next call only. Throws when the database
   * cannot answer.
   */
  async recheck(keys: readonly string[]): Promise<Map<string, number | null>> {
    const result = new Map<string, number | null>(keys.map((key) => [key, null]));
    const wanted = keys.filter((key) => SESSION_KEY_PATTERN.test(key));
    if (wanted.length === 0) {
      this.verified = new Map();
      return result;
    }
    const postgres = this.sessions.manager.dataSource.options.type === 'postgres';
    // One parameter for the whole list: PostgreSQL takes an array, SQLite a JSON array.
    const inList = (column: string, values: readonly unknown[]): [string, Record<string, unknown>] =>
      postgres
        ? [`${column} = ANY(:list)`, { list: values }]
        : [`${column} IN (SELECT value FROM json_each(:list))`, { list: JSON.stringify(values) }];
    const rows: { key: string; fingerprint: string; live: unknown }[] = await this.sessions
      .createQueryBuilder('s')
      .select('s.session_key', 'key')
      .addSelect(postgres ? 'md5(s.session_data)' : 's.session_data', 'fingerprint')
      .addSelect('CASE WHEN s.expire_date > :now THEN 1 ELSE 0 END', 'live')
      .where(...inList('s.session_key', wanted))
      .setParameter('now', new Date())
      .getRawMany();
    const claims = new Map<string, VerifiedSession>();
    const unknown: string[] = [];
    for (const row of rows) {
      if (Number(row.live) !== 1) continue;
      const known = this.verified.get(row.key);
      if (known?.fingerprint === row.fingerprint) claims.set(row.key, known);
      else unknown.push(row.key);
    }
    if (unknown.length > 0) {
      // New or changed rows: read in full and verified (their hash against no password yet).
      const full: { key: string; data: string; fingerprint: string }[] = await this.sessions
        .createQueryBuilder('s')
        .select('s.session_key', 'key')
        .addSelect('s.session_data', 'data')
        .addSelect(postgres ? 'md5(s.session_data)' : 's.session_data', 'fingerprint')
        .where(...inList('s.session_key', unknown))
        .getRawMany();
      for (const [i, row] of full.entries()) {
        const claim = this.claimOf(row.data);
        if (claim) claims.set(row.key, { ...claim, fingerprint: row.fingerprint, password: null });
        // Thousands at once (every socket back after a restart): the event loop gets its turns.
        if (i % VERIFY_BATCH === VERIFY_BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const ids = [...new Set([...claims.values()].map((c) => c.userId))];
    const users: { id: unknown; password: string; active: unknown }[] = ids.length
      ? await this.users
          .createQueryBuilder('u')
          .select('u.id', 'id')
          .addSelect('u.password', 'password')
          .addSelect('u.is_active', 'active')
          .where(...inList('u.id', ids))
          .getRawMany()
      : [];
    const byId = new Map(users.map((u) => [Number(u.id), u]));
    const verified = new Map<string, VerifiedSession>();
    for (const [key, claim] of claims) {
      const user = byId.get(claim.userId);
      if (!user || !(user.active === true || Number(user.active) === 1)) continue;
      if (
        claim.password !== user.password &&
        !sessionAuthHashMatches(claim.authHash, user.password, this.keys())
      )
        continue;
      verified.set(key, { ...claim, password: user.password });
      result.set(key, claim.userId);
    }
    this.verified = verified;
    return result;
  }

  /** Whose a session row says it is (signature checked), or null: unverifiable, or anonymous. */
  private claimOf(sessionData: string): { userId: number; authHash: unknown } | null {
    const fields = this.fieldsOf(sessionData);
    const userId = fields ? sessionUserId(fields) : null;
    return fields && userId ? { userId, authHash: fields._auth_user_hash } : null;
  }

  /** The fields of session data that verifies, or null (another key, tampered, garbage: logged at debug). */
  private fieldsOf(sessionData: string): Record<string, unknown> | null {
    const data = unsignObject(sessionData, this.keys(), SESSION_SALT);
    if (!data.ok) {
      this.logger.debug({ event: 'session_unverified', reason: data.reason });
      return null;
    }
    return isRecord(data.value) ? data.value : {};
  }

  /** Django's clearsessions. */
  async purgeExpired(): Promise<number> {
    const result = await this.sessions.delete({ expireDate: LessThan(new Date()) });
    return result.affected ?? 0;
  }
}

/** Django's `_auth_user_id`: the user's id as a string; null for an anonymous session. */
function sessionUserId(fields: Record<string, unknown>): number | null {
  const id = typeof fields._auth_user_id === 'string' ? Number(fields._auth_user_id) : NaN;
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
