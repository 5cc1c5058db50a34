import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ClusterJob, ClusterJobScheduler } from '../../database/cluster-job.scheduler';
import { VpnConfig } from './vpn.config';
import { VpnService } from './vpn.service';

type CrlUpkeep = { regenerated: boolean; nextUpdate: Date | null };

/** Keeps the CRL from lapsing (docker-openvpn #274): on VPN_CRL_CRON, on one instance at a time. */
@Injectable()
export class VpnCrlJob implements ClusterJob<CrlUpkeep>, OnApplicationBootstrap {
  readonly name = 'vpn-crl';
  readonly cron: string | null;
  readonly leaseMs = 10 * 60_000;
  readonly logger = new Logger('VpnCrl');
  readonly failedEvent = 'vpn_crl_job_failed';

  constructor(
    config: VpnConfig,
    private readonly vpn: VpnService,
    private readonly jobs: ClusterJobScheduler,
  ) {
    this.cron = config.crlCron;
  }

  onApplicationBootstrap(): void {
    this.jobs.schedule(this);
  }

  run(): Promise<CrlUpkeep | null> {
    return this.jobs.run(this);
  }

  work(): Promise<CrlUpkeep> {
    return this.vpn.maintainCrl();
  }
}
