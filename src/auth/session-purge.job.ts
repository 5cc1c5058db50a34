import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { JobLockService } from '../database/job-lock.service';
import { SessionStore } from './session.store';

/** Django's clearsessions, hourly, on one instance of the cluster at a time. */
@Injectable()
export class SessionPurgeJob {
  private readonly logger = new Logger('SessionPurge');

  constructor(
    private readonly sessions: SessionStore,
    private readonly lock: JobLockService,
  ) {}

  @Cron(CronExpression.EVERY_HOUR, { name: 'session-purge' })
  async run(): Promise<number | null> {
    try {
      const outcome = await this.lock.runExclusive(
        'session-purge',
        10 * 60_000,
        () => this.sessions.purgeExpired(),
        // Hourly: the other instances' ticks for the same hour find the lease still held.
        { holdMs: 30 * 60_000 },
      );
      if (outcome.ran) this.logger.log({ event: 'sessions_purged', count: outcome.result });
      return outcome.ran ? outcome.result : null;
    } catch (err) {
      this.logger.error({ event: 'session_purge_failed', error: (err as Error).message });
      return null;
    }
  }
}
