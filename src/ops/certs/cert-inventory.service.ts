import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import { CertsConfig } from './certs.config';

export type CertStatus = 'valid' | 'expiring' | 'expired';

export interface CertInfo {
  name: string;
  domains: string[];
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  status: CertStatus;
  /** From renewal/<name>.conf: the ACME server and the deploy hook certbot will use. */
  renewal: { server: string | null; deployHook: string | null } | null;
}

/** A certbot lineage name as certbot makes them (a domain, maybe with -0001); anything else is skipped. */
export const LINEAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

const DAY_MS = 86_400_000;

export function certStatus(notAfter: Date, warnDays: number, now = Date.now()): CertStatus {
  const left = notAfter.getTime() - now;
  if (left <= 0) return 'expired';
  return left < warnDays * DAY_MS ? 'expiring' : 'valid';
}

function confValue(conf: string, key: string): string | null {
  return new RegExp(`^${key}\\s*=\\s*(.+)$`, 'm').exec(conf)?.[1].trim() ?? null;
}

/** What certbot has on disk: `live/<name>/cert.pem` read with X509Certificate, plus the renewal conf. */
@Injectable()
export class CertInventoryService {
  private readonly logger = new Logger('CertInventory');

  constructor(private readonly config: CertsConfig) {}

  async list(now = Date.now()): Promise<CertInfo[]> {
    const liveDir = join(this.config.configDir, 'live');
    let names: string[];
    try {
      names = (await readdir(liveDir, { withFileTypes: true }))
        .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && LINEAGE_PATTERN.test(d.name))
        .map((d) => d.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: CertInfo[] = [];
    for (const name of names) {
      try {
        out.push(await this.read(name, now));
      } catch (err) {
        this.logger.warn({ event: 'cert_unreadable', name, error: (err as Error).message });
      }
    }
    return out;
  }

  private async read(name: string, now: number): Promise<CertInfo> {
    const cert = new X509Certificate(await readFile(join(this.config.configDir, 'live', name, 'cert.pem')));
    const notAfter = new Date(cert.validTo);
    const domains = (cert.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    let renewal: CertInfo['renewal'] = null;
    try {
      const conf = await readFile(join(this.config.configDir, 'renewal', `${name}.conf`), 'utf8');
      renewal = { server: confValue(conf, 'server'), deployHook: confValue(conf, 'renew_hook') };
    } catch {
      /* a lineage without a renewal conf cannot renew: shown as null */
    }
    return {
      name,
      domains,
      issuer: cert.issuer.replace(/\n/g, ', '),
      serial: cert.serialNumber.toLowerCase(),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: notAfter.toISOString(),
      daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
      status: certStatus(notAfter, this.config.warnDays, now),
      renewal,
    };
  }
}
