import { Injectable, Logger } from '@nestjs/common';
import { ClusterCronJob, ClusterJobScheduler } from '../../database/cluster-job.scheduler';
import { VpnConfig } from './vpn.config';
import { VpnService } from './vpn.service';

type CrlUpkeep = { regenerated: boolean; nextUpdate: Date | null };

/**
 * Keeps the CRL from lapsing (docker-openvpn #274) and watches the certificates' expiry
 * (docker-openvpn #731, #704): on VPN_CRL_CRON, on one instance at a time.
 */
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

  /** The CRL first; then the certificates' expiry, also when the CRL upkeep failed. */
  async work(): Promise<CrlUpkeep> {
    try {
      return await this.vpn.maintainCrl();
    } finally {
      await this.vpn
        .checkExpiry()
        .catch((err: Error) => this.logger.error({ event: 'vpn_expiry_check_failed', error: err.message }));
    }
  }
}
