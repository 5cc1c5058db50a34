import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { cronPeriodMs } from '../common/cron.util';
import { JobLockService } from '../database/job-lock.service';
import { ChatConfig } from './chat.config';
import { HistoryService } from './history.service';

/** Applies the history retention rules on CHAT_RETENTION_CRON, on one instance at a time. */
@Injectable()
export class RetentionJob implements OnApplicationBootstrap {
  private readonly logger = new Logger('ChatRetention');
  private holdMs = 0;

  constructor(
    private readonly config: ChatConfig,
    private readonly history: HistoryService,
    private readonly lock: JobLockService,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.retentionCron || !this.scheduler) return;
    const job = CronJob.from({
      cronTime: this.config.retentionCron,
      onTick: () => void this.run(),
      start: true,
    });
    this.holdMs = Math.floor(cronPeriodMs(job) / 2);
    this.scheduler.addCronJob('chat-retention', job);
  }

  async run(): Promise<number | null> {
    try {
      const outcome = await this.lock.runExclusive(
        'chat-retention',
        30 * 60_000,
        () => this.history.enforceRetention(),
        { holdMs: this.holdMs },
      );
      if (outcome.ran && outcome.result > 0)
        this.logger.log({ event: 'history_pruned', deleted: outcome.result });
      return outcome.ran ? outcome.result : null;
    } catch (err) {
      this.logger.error({ event: 'history_prune_failed', error: (err as Error).message });
      return null;
    }
  }
}
