import { HttpException, HttpStatus } from '@nestjs/common';
import type { Response } from 'express';

/**
 * Fixed one-minute windows of counts per key, in memory: what API_TOKEN_RATE and
 * API_TOKEN_FAILURES_PER_ADDRESS count. Windows of past minutes are dropped as the minute turns, so
 * the map holds at most the keys seen in the current minute (bounded by `maxKeys`: past it, new keys
 * share one overflow counter rather than growing memory under a flood of distinct keys).
 */
export class RateWindow {
  private minute = -1;
  private counts = new Map<string, number>();
  private overflow = 0;

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Counts one hit for `key`; returns 0 when allowed, else the seconds until the window turns. */
  hit(key: string): number {
    const count = this.bump(key);
    return count > this.limit ? this.secondsLeft() : 0;
  }

  /** Whether `key` is over its limit in this window, without counting. */
  blocked(key: string): number {
    this.turn();
    const count = this.counts.get(key) ?? (this.counts.size >= this.maxKeys ? this.overflow : 0);
    return count >= this.limit ? this.secondsLeft() : 0;
  }

  private bump(key: string): number {
    this.turn();
    const current = this.counts.get(key);
    if (current === undefined && this.counts.size >= this.maxKeys) return ++this.overflow;
    const next = (current ?? 0) + 1;
    this.counts.set(key, next);
    return next;
  }

  private turn(): void {
    const minute = Math.floor(this.now() / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.counts = new Map();
      this.overflow = 0;
    }
  }

  private secondsLeft(): number {
    return Math.max(1, Math.ceil(((this.minute + 1) * 60_000 - this.now()) / 1000));
  }
}

/** A 429 saying what was exceeded, with Retry-After: the seconds until the window turns. */
export function tooManyRequests(res: Response, seconds: number, message: string): HttpException {
  res.setHeader('Retry-After', String(seconds));
  return new HttpException(message, HttpStatus.TOO_MANY_REQUESTS);
}
