import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { JobLockService } from '../../database/job-lock.service';
import { VpnConfig } from './vpn.config';
import { VpnService } from './vpn.service';

/** Keeps the CRL from lapsing (docker-openvpn #274): on VPN_CRL_CRON, on one instance at a time. */
@Injectable()
export class VpnCrlJob implements OnApplicationBootstrap {
  private readonly logger = new Logger('VpnCrl');

  constructor(
    private readonly config: VpnConfig,
    private readonly vpn: VpnService,
    private readonly lock: JobLockService,
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.crlCron || !this.scheduler) return;
    const job = CronJob.from({ cronTime: this.config.crlCron, onTick: () => void this.run(), start: true });
    this.scheduler.addCronJob('vpn-crl', job);
  }

  async run(): Promise<{ regenerated: boolean; nextUpdate: Date | null } | null> {
    try {
      const outcome = await this.lock.runExclusive('vpn-crl', 10 * 60_000, () => this.vpn.maintainCrl(), {
        holdMs: 60_000,
      });
      return outcome.ran ? outcome.result : null;
    } catch (err) {
      this.logger.error({ event: 'vpn_crl_job_failed', error: (err as Error).message });
      return null;
    }
  }
}
