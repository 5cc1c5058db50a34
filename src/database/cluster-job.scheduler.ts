import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob, CronTime } from 'cron';
import { JobLockService } from './job-lock.service';

/** A cron job that runs on one instance of the cluster per tick, under the shared lease. */
export interface ClusterJob<T> {
  /** Names the lease, the scheduler entry and `job` in the `job_started` event. */
  readonly name: string;
  /** The cron expression from the feature's configuration; null when it is "off". */
  readonly cron: string | null;
  /** A holder that dies loses the lease this long after its last renewal (renewed while it runs). */
  readonly leaseMs: number;
  /** A run that throws is logged here as `{event: failedEvent, error}`. */
  readonly logger: Pick<Logger, 'error'>;
  readonly failedEvent: string;
  work(): Promise<T>;
}

/**
 * The time between a cron expression's next two ticks. A run keeps the lease for half of that after
 * its start, so instances whose clocks tick a few milliseconds apart run it once per tick, not once each.
 */
export function cronPeriodMs(cron: string): number {
  const [a, b] = new CronTime(cron).sendAt(2);
  return b.toMillis() - a.toMillis();
}

/**
 * Schedules and runs `ClusterJob`s (ClusterCronJob below does both for a job); without a scheduler
 * (the manage CLI) nothing is scheduled.
 */
@Injectable()
export class ClusterJobScheduler {
  constructor(
    private readonly lock: JobLockService,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  /** Registers the job on its cron; false when the cron is off or this process schedules nothing. */
  schedule(job: ClusterJob<unknown>): boolean {
    if (!job.cron || !this.scheduler) return false;
    const cronJob = CronJob.from({ cronTime: job.cron, onTick: () => void this.run(job), start: true });
    this.scheduler.addCronJob(job.name, cronJob);
    return true;
  }

  /** One tick: the job's result, or null when another instance has this tick or the run failed (logged). */
  async run<T>(job: ClusterJob<T>): Promise<T | null> {
    try {
      const holdMs = job.cron ? Math.floor(cronPeriodMs(job.cron) / 2) : 0;
      const outcome = await this.lock.runExclusive(job.name, job.leaseMs, () => job.work(), { holdMs });
      return outcome.ran ? outcome.result : null;
    } catch (err) {
      job.logger.error({ event: job.failedEvent, error: (err as Error).message });
      return null;
    }
  }
}

/**
 * What the four cron jobs have in common: scheduled at bootstrap (unless the cron is off or the
 * process schedules nothing), and `run()` is one tick under the lease. A job names itself, says when
 * it runs and does its `work()`.
 */
export abstract class ClusterCronJob<T> implements ClusterJob<T>, OnApplicationBootstrap {
  abstract readonly name: string;
  abstract readonly cron: string | null;
  abstract readonly leaseMs: number;
  abstract readonly logger: Logger;
  abstract readonly failedEvent: string;

  constructor(protected readonly jobs: ClusterJobScheduler) {}

  onApplicationBootstrap(): void {
    if (this.jobs.schedule(this)) this.onScheduled();
  }

  /** One tick now: the result, or null when another instance has it or it failed (logged). */
  run(): Promise<T | null> {
    return this.jobs.run(this);
  }

  abstract work(): Promise<T>;

  /** Called once the job is on its cron. */
  protected onScheduled(): void {}
}
