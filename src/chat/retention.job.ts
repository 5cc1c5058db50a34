import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ClusterJob, ClusterJobScheduler } from '../database/cluster-job.scheduler';
import { ChatConfig } from './chat.config';
import { HistoryService } from './history.service';

/** Applies the history retention rules on CHAT_RETENTION_CRON, on one instance at a time. */
@Injectable()
export class RetentionJob implements ClusterJob<number>, OnApplicationBootstrap {
  readonly name = 'chat-retention';
  readonly cron: string | null;
  readonly leaseMs = 30 * 60_000;
  readonly logger = new Logger('ChatRetention');
  readonly failedEvent = 'history_prune_failed';

  constructor(
    config: ChatConfig,
    private readonly history: HistoryService,
    private readonly jobs: ClusterJobScheduler,
  ) {
    this.cron = config.retentionCron;
  }

  onApplicationBootstrap(): void {
    this.jobs.schedule(this);
  }

  run(): Promise<number | null> {
    return this.jobs.run(this);
  }

  async work(): Promise<number> {
    const deleted = await this.history.enforceRetention();
    if (deleted > 0) this.logger.log({ event: 'history_pruned', deleted });
    return deleted;
  }
}
