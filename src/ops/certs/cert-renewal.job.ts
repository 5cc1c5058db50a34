import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ClusterJob, ClusterJobScheduler } from '../../database/cluster-job.scheduler';
import { CertRun } from './cert-run.entity';
import { CertsConfig } from './certs.config';
import { CertsService } from './certs.service';

/**
 * Renews on CERT_RENEW_CRON (twice a day by default), one instance per tick in a cluster. The tick's
 * lease is this job's; certbot itself runs under CertsService's lease, which manual runs share.
 */
@Injectable()
export class CertRenewalJob implements ClusterJob<CertRun | null>, OnApplicationBootstrap {
  readonly name = 'cert-renewal';
  readonly cron: string | null;
  readonly leaseMs: number;
  readonly logger = new Logger('CertRenewal');
  readonly failedEvent = 'cert_renewal_tick_failed';

  constructor(
    config: CertsConfig,
    private readonly certs: CertsService,
    private readonly jobs: ClusterJobScheduler,
  ) {
    this.cron = config.renewCron;
    this.leaseMs = config.timeoutMs + 60_000;
  }

  onApplicationBootstrap(): void {
    if (this.jobs.schedule(this)) this.logger.log({ event: 'cert_renewal_scheduled', cron: this.cron });
  }

  run(): Promise<CertRun | null> {
    return this.jobs.run(this);
  }

  work(): Promise<CertRun | null> {
    return this.certs.scheduledRenewal();
  }
}
