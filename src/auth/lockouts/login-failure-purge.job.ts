import { Injectable, Logger } from '@nestjs/common';
import { ClusterCronJob, ClusterJobScheduler } from '../../database/cluster-job.scheduler';
import { LoginThrottle } from '../login-throttle';
import { LoginFailureStore } from './login-failure.store';

/**
 * Deletes failed logins that have left the window, every ten minutes on one instance: they no
 * longer count, and a guessing storm from many addresses would otherwise grow the table for good.
 */
@Injectable()
export class LoginFailurePurgeJob extends ClusterCronJob<number> {
  readonly name = 'login-failure-purge';
  readonly cron = '*/10 * * * *';
  readonly leaseMs = 5 * 60_000;
  readonly logger = new Logger('LoginFailurePurge');
  readonly failedEvent = 'login_failure_purge_failed';

  constructor(
    private readonly store: LoginFailureStore,
    private readonly throttle: LoginThrottle,
    jobs: ClusterJobScheduler,
  ) {
    super(jobs);
  }

  async work(now = Date.now()): Promise<number> {
    const count = await this.store.purge(now - this.throttle.limits.windowMs);
    if (count > 0) this.logger.log({ event: 'login_failures_purged', count });
    return count;
  }
}
