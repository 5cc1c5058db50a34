import { Injectable, Logger } from '@nestjs/common';
import { ClusterCronJob, ClusterJobScheduler } from '../../database/cluster-job.scheduler';
import { CertRun } from './cert-run.entity';
import { CertsConfig } from './certs.config';
import { CertsService } from './certs.service';

/**
 * Renews on CERT_RENEW_CRON (twice a day by default), one instance per tick in a cluster. The tick's
 * lease is this job's; certbot itself runs under CertsService's lease, which manual runs share.
 */
@Injectable()
export class CertRenewalJob extends ClusterCronJob<CertRun | null> {
  readonly name = 'cert-renewal';
  readonly cron: string | null;
  readonly leaseMs: number;
  readonly logger = new Logger('CertRenewal');
  readonly failedEvent = 'cert_renewal_tick_failed';

  constructor(
    config: CertsConfig,
    private readonly certs: CertsService,
    jobs: ClusterJobScheduler,
  ) {
    super(jobs);
    this.cron = config.renewCron;
    this.leaseMs = config.timeoutMs + 60_000;
  }

  protected override onScheduled(): void {
    this.logger.log({ event: 'cert_renewal_scheduled', cron: this.cron });
  }

  work(): Promise<CertRun | null> {
    return this.certs.scheduledRenewal();
  }
}
