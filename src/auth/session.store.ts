import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app.config';
import {
  SESSION_SALT,
  sessionAuthHash,
  sessionAuthHashMatches,
  signObject,
  unsignObject,
} from './django-signing';
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

  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly config: AppConfig,
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
    const data = unsignObject(session.sessionData, this.keys(), SESSION_SALT);
    if (!data.ok) {
      this.logger.debug({ event: 'session_unverified', reason: data.reason });
      return null;
    }
    const fields = isRecord(data.value) ? data.value : {};
    const userId = typeof fields._auth_user_id === 'string' ? Number(fields._auth_user_id) : NaN;
    if (!Number.isSafeInteger(userId) || userId <= 0) return null; // an anonymous Django session
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
  }

  /** Django's clearsessions. */
  async purgeExpired(): Promise<number> {
    const result = await this.sessions.delete({ expireDate: LessThan(new Date()) });
    return result.affected ?? 0;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
