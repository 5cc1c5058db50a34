import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app.config';

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts failed logins per username and per client address in a sliding window (in memory, per
 * instance). Reaching the limit on either key blocks further attempts until the oldest failure ages out.
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
    const windowMs = this.config.loginFailureWindowSeconds * 1000;
    let retryAt = 0;
    for (const key of this.keys(username, address)) {
      const list = this.recent(key, now);
      if (list.length >= this.config.loginMaxFailures) {
        retryAt = Math.max(retryAt, list[list.length - this.config.loginMaxFailures] + windowMs);
      }
    }
    return retryAt === 0
      ? { allowed: true }
      : { allowed: false, retryAfterSeconds: Math.ceil((retryAt - now) / 1000) };
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
