import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { cronPeriodMs } from '../../common/cron.util';
import { CertsConfig } from './certs.config';
import { CertsService } from './certs.service';

/** Renews on CERT_RENEW_CRON (twice a day by default), one instance per tick in a cluster. */
@Injectable()
export class CertRenewalJob implements OnApplicationBootstrap {
  private readonly logger = new Logger('CertRenewal');

  constructor(
    private readonly config: CertsConfig,
    private readonly certs: CertsService,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.renewCron || !this.scheduler) return;
    const job = CronJob.from({
      cronTime: this.config.renewCron,
      onTick: () => void this.tick(holdMs),
      start: true,
    });
    const holdMs = Math.floor(cronPeriodMs(job) / 2);
    this.scheduler.addCronJob('cert-renewal', job);
    this.logger.log({ event: 'cert_renewal_scheduled', cron: this.config.renewCron });
  }

  private async tick(holdMs: number): Promise<void> {
    try {
      await this.certs.scheduledRenewal(holdMs);
    } catch (err) {
      this.logger.error({ event: 'cert_renewal_tick_failed', error: (err as Error).message });
    }
  }
}
