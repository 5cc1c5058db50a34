import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CronExpression } from '@nestjs/schedule';
import { ClusterJob, ClusterJobScheduler } from '../database/cluster-job.scheduler';
import { SessionStore } from './session.store';

/** Django's clearsessions, hourly, on one instance of the cluster at a time. */
@Injectable()
export class SessionPurgeJob implements ClusterJob<number>, OnApplicationBootstrap {
  readonly name = 'session-purge';
  readonly cron = CronExpression.EVERY_HOUR;
  readonly leaseMs = 10 * 60_000;
  readonly logger = new Logger('SessionPurge');
  readonly failedEvent = 'session_purge_failed';

  constructor(
    private readonly sessions: SessionStore,
    private readonly jobs: ClusterJobScheduler,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.schedule(this);
  }

  run(): Promise<number | null> {
    return this.jobs.run(this);
  }

  async work(): Promise<number> {
    const count = await this.sessions.purgeExpired();
    this.logger.log({ event: 'sessions_purged', count });
    return count;
  }
}
