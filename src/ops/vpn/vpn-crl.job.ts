import { Injectable, Logger } from '@nestjs/common';
import { ClusterCronJob, ClusterJobScheduler } from '../../database/cluster-job.scheduler';
import { VpnConfig } from './vpn.config';
import { VpnService } from './vpn.service';

type CrlUpkeep = { regenerated: boolean; nextUpdate: Date | null };

/** Keeps the CRL from lapsing (docker-openvpn #274): on VPN_CRL_CRON, on one instance at a time. */
@Injectable()
export class VpnCrlJob extends ClusterCronJob<CrlUpkeep> {
  readonly name = 'vpn-crl';
  readonly cron: string | null;
  readonly leaseMs = 10 * 60_000;
  readonly logger = new Logger('VpnCrl');
  readonly failedEvent = 'vpn_crl_job_failed';

  constructor(
    config: VpnConfig,
    private readonly vpn: VpnService,
    jobs: ClusterJobScheduler,
  ) {
    super(jobs);
    this.cron = config.crlCron;
  }

  work(): Promise<CrlUpkeep> {
    return this.vpn.maintainCrl();
  }
}
