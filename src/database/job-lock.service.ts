import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryFailedError } from 'typeorm';
import { JobLease } from './job-lease.entity';

export type ExclusiveOutcome<T> = { ran: true; result: T } | { ran: false };

/** A lease this instance holds and keeps renewed until it lets it go. */
export interface HeldLease {
  readonly name: string;
  /**
   * Stops renewing and lets the lease go, or keeps it until `keepUntil` (epoch ms) when that is still
   * ahead. Once only; never throws (a failure is logged and the lease lapses at its deadline).
   */
  release(keepUntil?: number): Promise<void>;
}

/**
 * A lease row per job name in the shared database: whoever holds an unexpired lease runs the job.
 * Works on SQLite and PostgreSQL; a crashed holder's lease lapses at its deadline. The lease is
 * extended while the job runs, so a long job keeps it.
 */
@Injectable()
export class JobLockService {
  private readonly logger = new Logger('JobLock');
  /** Identifies this process among the cluster's instances. */
  readonly holderId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async tryAcquire(name: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const repo = this.dataSource.getRepository(JobLease);
    const taken = await repo
      .createQueryBuilder()
      .update(JobLease)
      .set({ holder: this.holderId, expiresAt: now + ttlMs })
      .where('name = :name AND (expires_at < :now OR holder = :holder)', { name, now, holder: this.holderId })
      .execute();
    if ((taken.affected ?? 0) > 0) return true;
    try {
      await repo.insert({ name, holder: this.holderId, expiresAt: now + ttlMs });
      return true;
    } catch (err) {
      if (err instanceof QueryFailedError) return false; // someone else holds it (primary key taken)
      throw err;
    }
  }

  private async holdUntil(name: string, until: number): Promise<void> {
    await this.dataSource
      .getRepository(JobLease)
      .update({ name, holder: this.holderId }, { expiresAt: until });
  }

  async release(name: string): Promise<void> {
    await this.dataSource.getRepository(JobLease).delete({ name, holder: this.holderId });
  }

  /**
   * Takes the lease if it is free (or already ours) and renews it every third of `ttlMs` until
   * released; null when another instance holds it.
   */
  async acquire(name: string, ttlMs: number): Promise<HeldLease | null> {
    if (!(await this.tryAcquire(name, ttlMs))) return null;
    const keepAlive = setInterval(
      () => {
        this.tryAcquire(name, ttlMs).catch((err: Error) =>
          this.logger.warn({ event: 'lease_extend_failed', job: name, error: err.message }),
        );
      },
      Math.max(1000, Math.floor(ttlMs / 3)),
    );
    keepAlive.unref();
    let released = false;
    return {
      name,
      release: async (keepUntil = 0) => {
        if (released) return;
        released = true;
        clearInterval(keepAlive);
        const done = keepUntil > Date.now() ? this.holdUntil(name, keepUntil) : this.release(name);
        await done.catch((err: Error) =>
          this.logger.warn({ event: 'lease_release_failed', job: name, error: err.message }),
        );
      },
    };
  }

  /**
   * Runs `fn` only if this instance gets the lease; otherwise reports that it did not run.
   * `holdMs` keeps the lease after the run until that long after its start, so the other instances,
   * whose cron fires a few milliseconds later for the same tick, do not run it again.
   */
  async runExclusive<T>(
    name: string,
    ttlMs: number,
    fn: () => Promise<T>,
    options: { holdMs?: number } = {},
  ): Promise<ExclusiveOutcome<T>> {
    const startedAt = Date.now();
    const lease = await this.acquire(name, ttlMs);
    if (!lease) {
      this.logger.debug({ event: 'job_skipped_lease_held', job: name });
      return { ran: false };
    }
    this.logger.log({ event: 'job_started', job: name, instance: this.holderId });
    try {
      return { ran: true, result: await fn() };
    } finally {
      await lease.release(startedAt + (options.holdMs ?? 0));
    }
  }
}
