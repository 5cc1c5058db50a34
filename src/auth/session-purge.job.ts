import { Injectable, Logger } from '@nestjs/common';
import { CronExpression } from '@nestjs/schedule';
import { ClusterCronJob, ClusterJobScheduler } from '../database/cluster-job.scheduler';
import { SessionStore } from './session.store';

/** Django's clearsessions, hourly, on one instance of the cluster at a time. */
@Injectable()
export class SessionPurgeJob extends ClusterCronJob<number> {
  readonly name = 'session-purge';
  readonly cron = CronExpression.EVERY_HOUR;
  readonly leaseMs = 10 * 60_000;
  readonly logger = new Logger('SessionPurge');
  readonly failedEvent = 'session_purge_failed';

  constructor(
    private readonly sessions: SessionStore,
    jobs: ClusterJobScheduler,
  ) {
    super(jobs);
  }

  async work(): Promise<number> {
    const count = await this.sessions.purgeExpired();
    this.logger.log({ event: 'sessions_purged', count });
    return count;
  }
}
