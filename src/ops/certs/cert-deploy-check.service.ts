import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { OpsEvents } from '../../common/ops-events';
import { CertInfo } from './cert-inventory.service';
import { CertDeployCheck, DeployStatus, ServedCheck } from './cert-deploy-check.entity';
import { CertsConfig } from './certs.config';
import { ServedCertProbe } from './served-cert.probe';

const PROBE_TIMEOUT_MS = 5000;

/** Which status a lineage gets from what its domains served: one stale answer is enough to say so. */
export function deployStatus(checks: ServedCheck[]): DeployStatus {
  if (checks.some((c) => c.served !== null && !c.matches)) return 'not-deployed';
  return checks.every((c) => c.matches) ? 'deployed' : 'unreachable';
}

/**
 * The served-certificate check: connects with TLS to each domain of a certificate (SNI; to the
 * domain on 443, or to CERT_CHECK_ADDRESS) and compares what is served with `live/<name>/cert.pem`.
 * A web server still serving the old certificate (deploy hook failed, not reloaded) is
 * `not-deployed`: logged, raised as `cert.not_deployed`, kept in the database for every /health.
 */
@Injectable()
export class CertDeployChecker {
  private readonly logger = new Logger('CertDeployCheck');
  /** After a renewal the web server may still be reloading: a mismatch is looked at again this often. */
  retryDelaysMs = [2000, 3000];

  constructor(
    @InjectRepository(CertDeployCheck) private readonly checks: Repository<CertDeployCheck>,
    private readonly probe: ServedCertProbe,
    private readonly config: CertsConfig,
    private readonly events: OpsEvents,
  ) {}

  get enabled(): boolean {
    return this.config.checkAddress !== 'off';
  }

  /** Checks each certificate; `afterRenewal` gives a reloading web server a few seconds. */
  async check(certs: CertInfo[], options: { afterRenewal?: boolean } = {}): Promise<CertDeployCheck[]> {
    if (!this.enabled) return [];
    return Promise.all(certs.map((cert) => this.checkOne(cert, options.afterRenewal ?? false)));
  }

  /** The last check of each lineage, by name. */
  async latest(): Promise<Map<string, CertDeployCheck>> {
    return new Map((await this.checks.find()).map((c) => [c.name, c]));
  }

  private async probeAll(cert: CertInfo): Promise<ServedCheck[]> {
    const target = this.config.checkAddress === 'off' ? null : this.config.checkAddress;
    // SNI cannot name a wildcard: such a name is left to the check of its other names.
    const domains = cert.domains.filter((d) => !d.startsWith('*.'));
    return Promise.all(
      domains.map(async (domain): Promise<ServedCheck> => {
        const host = target?.host ?? domain;
        const port = target?.port ?? 443;
        const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
        try {
          const served = await this.probe.read(host, port, domain, PROBE_TIMEOUT_MS);
          return {
            domain,
            address,
            served: served.serial,
            matches: served.fingerprint === cert.fingerprint,
            error: null,
          };
        } catch (err) {
          return { domain, address, served: null, matches: false, error: (err as Error).message };
        }
      }),
    );
  }

  private async checkOne(cert: CertInfo, afterRenewal: boolean): Promise<CertDeployCheck> {
    let detail = await this.probeAll(cert);
    const delays = afterRenewal ? [...this.retryDelaysMs] : [];
    while (deployStatus(detail) === 'not-deployed' && delays.length > 0) {
      await new Promise((r) => setTimeout(r, delays.shift()));
      detail = await this.probeAll(cert);
    }
    const status = deployStatus(detail);
    const previous = await this.checks.findOneBy({ name: cert.name });
    const row = await this.checks.save(
      this.checks.create({
        name: cert.name,
        checkedAt: new Date(),
        status,
        expectedSerial: cert.serial,
        detail,
      }),
    );
    const fields = { event: 'cert_deploy_checked', name: cert.name, status, serial: cert.serial, detail };
    if (status === 'deployed') this.logger.log(fields);
    else if (status === 'unreachable') this.logger.warn(fields);
    else {
      this.logger.error({ ...fields, event: 'cert_not_deployed' });
      const stale = detail.filter((d) => d.served !== null && !d.matches);
      this.events.publish({
        event: 'cert.not_deployed',
        severity: 'critical',
        subject: `Certificate ${cert.name} is not the one being served`,
        detail: [
          `certbot holds serial ${cert.serial} (not after ${cert.notAfter}), but:`,
          ...stale.map((d) => `${d.domain} at ${d.address} serves serial ${d.served}`),
          'Did the deploy hook run and reload the web server (CERTBOT_DEPLOY_HOOK)?',
        ].join('\n'),
        dedupeKey: `cert.not_deployed:${cert.name}`,
      });
    }
    if (previous?.status === 'not-deployed' && status === 'deployed')
      this.logger.log({ event: 'cert_deployed_again', name: cert.name, serial: cert.serial });
    return row;
  }
}
