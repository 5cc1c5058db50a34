import { Injectable, Logger } from '@nestjs/common';
import { ClusterCronJob, ClusterJobScheduler } from '../database/cluster-job.scheduler';
import { ChatConfig } from './chat.config';
import { HistoryService } from './history.service';

/** Applies the history retention rules on CHAT_RETENTION_CRON, on one instance at a time. */
@Injectable()
export class RetentionJob extends ClusterCronJob<number> {
  readonly name = 'chat-retention';
  readonly cron: string | null;
  readonly leaseMs = 30 * 60_000;
  readonly logger = new Logger('ChatRetention');
  readonly failedEvent = 'history_prune_failed';

  constructor(
    config: ChatConfig,
    private readonly history: HistoryService,
    jobs: ClusterJobScheduler,
  ) {
    super(jobs);
    this.cron = config.retentionCron;
  }

  async work(): Promise<number> {
    const deleted = await this.history.enforceRetention();
    if (deleted > 0) this.logger.log({ event: 'history_pruned', deleted });
    return deleted;
  }
}
