import { Injectable, Logger } from '@nestjs/common';
import { OpsEvents } from '../common/ops-events';
import { AppConfig } from '../config/app.config';
import { FailureFilter, FailureLimits, Lockout, LoginFailureStore } from './lockouts/login-failure.store';

export type ThrottleVerdict =
  { allowed: true; attempt: LoginAttempt } | { allowed: false; retryAfterSeconds: number };

/** An attempt counted in advance: a failure until `succeeded` or `release` takes it back. */
export interface LoginAttempt {
  readonly id: number;
  readonly username: string;
  readonly address: string;
  readonly at: number;
  /** Failures of the pair and of the address in the window when it was counted, itself included. */
  readonly pairFailures: number;
  readonly addressFailures: number;
}

/** What an unlock lifted: the lockouts in force before it, and the failures it deleted. */
export interface UnlockResult {
  lockouts: Lockout[];
  failuresCleared: number;
}

/** The database's column widths: longer keys share a counter with their first characters. */
const USERNAME_MAX = 150;
const ADDRESS_MAX = 100;
/** The list staff see is for reading, not a dump of an attack: at most this many of each kind. */
const LIST_MAX = 500;

/**
 * Counts failed logins per (username, address), like django-axes' default combination, with a
 * looser ceiling per address, in a sliding window. The failures live in the shared database
 * (LoginFailureStore), so every instance counts the same and a restart forgets nothing.
 *
 * An attempt is counted *before* its password is checked (`reserve`), atomically with the check of
 * the limits, and taken back when it turns out right (`succeeded`): otherwise a burst of concurrent
 * guesses would all be hashed before the first failure is recorded. When the database cannot be
 * reached, `reserve` throws and the login fails closed (503): no password is checked uncounted.
 */
@Injectable()
export class LoginThrottle {
  private readonly logger = new Logger('Login');
  readonly limits: FailureLimits;

  constructor(
    config: AppConfig,
    private readonly store: LoginFailureStore,
    private readonly events: OpsEvents,
  ) {
    this.limits = {
      windowMs: config.loginFailureWindowSeconds * 1000,
      perPair: config.loginMaxFailures,
      perAddress: config.loginMaxFailuresPerAddress,
    };
  }

  /** Checks the limits and, when allowed, counts the attempt as a failure at once (see the class comment). */
  async reserve(username: string, address: string, now = Date.now()): Promise<ThrottleVerdict> {
    const key = { username: username.slice(0, USERNAME_MAX), address: address.slice(0, ADDRESS_MAX) };
    const r = await this.store.reserve(key.username, key.address, now, this.limits);
    if (!r.reserved)
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((r.retryAt - now) / 1000)) };
    return {
      allowed: true,
      attempt: {
        id: r.id,
        ...key,
        at: now,
        pairFailures: r.pairFailures,
        addressFailures: r.addressFailures,
      },
    };
  }

  /** The password was wrong: the attempt stays counted; if it filled a limit, that key is now locked. */
  failed(attempt: LoginAttempt): void {
    if (attempt.pairFailures >= this.limits.perPair) this.lockedOut(attempt, attempt.username);
    if (attempt.addressFailures >= this.limits.perAddress) this.lockedOut(attempt, null);
  }

  /** The password was right: the attempt no longer counts, and the pair starts afresh. */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    await this.quietly('login_failures_not_cleared', attempt, () =>
      this.store.clear({ username: attempt.username, address: attempt.address }),
    );
  }

  /** The attempt could not be decided (the database failed): it does not count either way. */
  async release(attempt: LoginAttempt): Promise<void> {
    await this.quietly('login_attempt_not_released', attempt, () => this.store.remove(attempt.id));
  }

  /** Every key locked now: (username, address) pairs, and addresses over their ceiling. */
  lockouts(now = Date.now()): Promise<Lockout[]> {
    return this.store.lockouts(now, this.limits, LIST_MAX);
  }

  /**
   * Clears the failures a filter selects (a pair, a username from everywhere, an address, or a value
   * that is either), logs it and raises `auth.lockout` when a lockout was lifted.
   */
  async unlock(filter: FailureFilter, actor: string, now = Date.now()): Promise<UnlockResult> {
    // Lifted: in force before, gone after (clearing a pair may bring its address under the ceiling).
    const before = await this.store.lockouts(now, this.limits, LIST_MAX);
    const failuresCleared = await this.store.clear(filter);
    const after = new Set((await this.store.lockouts(now, this.limits, LIST_MAX)).map(lockoutKey));
    const lockouts = before.filter((l) => !after.has(lockoutKey(l)));
    const target = describeFilter(filter);
    this.logger.log({
      event: 'login_unlocked',
      actor,
      ...('either' in filter ? { value: filter.either } : filter),
      lockouts: lockouts.length,
      failuresCleared,
    });
    if (lockouts.length > 0)
      this.events.publish({
        event: 'auth.lockout',
        severity: 'info',
        subject: `Logins unlocked for ${target} by ${actor}`,
        detail:
          `${actor} cleared ${failuresCleared} failed login(s) for ${target}, lifting: ` +
          lockouts.map(describeLockout).join('; '),
        dedupeKey: `auth.lockout:unlocked:${target}`,
      });
    return { lockouts, failuresCleared };
  }

  private lockedOut(attempt: LoginAttempt, username: string | null): void {
    const failures = username === null ? attempt.addressFailures : attempt.pairFailures;
    const lockedUntil = new Date(attempt.at + this.limits.windowMs).toISOString();
    const who =
      username === null ? `every username from ${attempt.address}` : `${username} from ${attempt.address}`;
    this.logger.warn({
      event: 'login_locked_out',
      kind: username === null ? 'address' : 'user',
      username,
      address: attempt.address,
      failures,
      windowSeconds: this.limits.windowMs / 1000,
      lockedUntil,
    });
    this.events.publish({
      event: 'auth.lockout',
      severity: 'warning',
      subject: `Logins locked for ${who}`,
      detail:
        `${failures} failed logins within ${this.limits.windowMs / 1000} s: ${who} gets 429 until ` +
        `${lockedUntil} at the latest. Staff can lift it in the console (Lockouts) or with ` +
        `npm run manage -- unlock ${username ?? attempt.address}.`,
      dedupeKey: `auth.lockout:${username === null ? '' : `${username}@`}${attempt.address}`,
    });
  }

  /** Bookkeeping after the password was checked: a failure is logged, never turned into a 5xx. */
  private async quietly(event: string, attempt: LoginAttempt, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.logger.warn({
        event,
        username: attempt.username,
        address: attempt.address,
        error: (err as Error).message,
      });
    }
  }
}

function lockoutKey(l: Lockout): string {
  return JSON.stringify([l.username, l.address]);
}

function describeFilter(filter: FailureFilter): string {
  if ('either' in filter) return filter.either;
  if (filter.username !== undefined && filter.address !== undefined)
    return `${filter.username} from ${filter.address}`;
  return filter.username ?? (filter.address as string);
}

function describeLockout(l: Lockout): string {
  return l.username === null
    ? `address ${l.address} (${l.failures} failures)`
    : `${l.username} from ${l.address} (${l.failures} failures)`;
}
