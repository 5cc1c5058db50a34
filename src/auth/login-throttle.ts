import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app.config';

export type ThrottleVerdict =
  { allowed: true; attempt: LoginAttempt } | { allowed: false; retryAfterSeconds: number };

/** An attempt counted in advance: a failure until `succeeded` takes it back. */
export interface LoginAttempt {
  readonly username: string;
  readonly address: string;
  readonly at: number;
}

/**
 * Counts failed logins per username and per client address in a sliding window (in memory, per
 * instance). Reaching the limit on either key blocks further attempts until the oldest failure ages out.
 *
 * An attempt is counted *before* its password is checked (`reserve`), and taken back when it turns
 * out right (`succeeded`): otherwise a burst of concurrent guesses would all be hashed before the
 * first failure is recorded, and the limit would not hold against parallel requests.
 */
@Injectable()
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly config: AppConfig) {}

  private keys(username: string, address: string): string[] {
    return [`u:${username.toLowerCase()}`, `ip:${address}`];
  }

  private recent(key: string, now: number): number[] {
    const windowMs = this.config.loginFailureWindowSeconds * 1000;
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - windowMs);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  check(username: string, address: string, now = Date.now()): ThrottleVerdict {
    const verdict = this.verdict(username, address, now);
    return verdict ?? { allowed: true, attempt: { username, address, at: now } };
  }

  /** Checks and, when allowed, counts the attempt as a failure at once (see the class comment). */
  reserve(username: string, address: string, now = Date.now()): ThrottleVerdict {
    const verdict = this.verdict(username, address, now);
    if (verdict) return verdict;
    this.recordFailure(username, address, now);
    return { allowed: true, attempt: { username, address, at: now } };
  }

  /** The reserved attempt was right: it no longer counts, and the username starts afresh. */
  succeeded(attempt: LoginAttempt): void {
    this.release(attempt);
    this.recordSuccess(attempt.username);
  }

  /** The attempt could not be decided (the database failed): it does not count either way. */
  release(attempt: LoginAttempt): void {
    for (const key of this.keys(attempt.username, attempt.address)) {
      const list = this.failures.get(key);
      const i = list?.lastIndexOf(attempt.at) ?? -1;
      if (list && i !== -1) list.splice(i, 1);
    }
  }

  private verdict(username: string, address: string, now: number): ThrottleVerdict | null {
    const windowMs = this.config.loginFailureWindowSeconds * 1000;
    let retryAt = 0;
    for (const key of this.keys(username, address)) {
      const list = this.recent(key, now);
      if (list.length >= this.config.loginMaxFailures) {
        retryAt = Math.max(retryAt, list[list.length - this.config.loginMaxFailures] + windowMs);
      }
    }
    return retryAt === 0 ? null : { allowed: false, retryAfterSeconds: Math.ceil((retryAt - now) / 1000) };
  }

  recordFailure(username: string, address: string, now = Date.now()): void {
    for (const key of this.keys(username, address)) {
      const list = this.recent(key, now);
      list.push(now);
      // Bound memory: only the newest failures matter for the verdict.
      if (list.length > this.config.loginMaxFailures * 2)
        list.splice(0, list.length - this.config.loginMaxFailures);
      this.failures.set(key, list);
    }
  }

  recordSuccess(username: string): void {
    this.failures.delete(`u:${username.toLowerCase()}`);
  }
}
