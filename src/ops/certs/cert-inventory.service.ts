import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable, Logger } from '@nestjs/common';
import { LETS_ENCRYPT_STAGING, CertsConfig } from './certs.config';

export type CertStatus = 'valid' | 'expiring' | 'expired';

export interface CertInfo {
  name: string;
  domains: string[];
  issuer: string;
  serial: string;
  /** SHA-256 of the DER certificate, as Node's X509Certificate prints it (AA:BB:…). */
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  /** notAfter − notBefore, in days (fractional: a 6-day certificate is 6.67 with Let's Encrypt). */
  lifetimeDays: number;
  daysLeft: number;
  status: CertStatus;
  /** From then on the certificate is `expiring` (CERT_WARN_FRACTION of its lifetime, CERT_WARN_DAYS). */
  warnFrom: string;
  /** From then on live renews it (see renewWindowMs). */
  renewFrom: string;
  /** Issued by Let's Encrypt's staging CA (or another test CA): browsers will not trust it. */
  staging: boolean;
  /** From renewal/<name>.conf: what certbot will use to renew it. */
  renewal: {
    server: string | null;
    deployHook: string | null;
    authenticator: string | null;
    /** The lineage's own `renew_before_expiry`, when set (certbot's override of its window). */
    renewBeforeExpiry: string | null;
    /** Obtained through live: its challenge hooks, or (before them) its webroot. */
    byLive: boolean;
  } | null;
}

/** A certbot lineage name as certbot makes them (a domain, maybe with -0001); anything else is skipped. */
export const LINEAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

export const DAY_MS = 86_400_000;

/** How long before expiry a certificate is `expiring`: a fraction of its lifetime, or a floor in days. */
export function warnWindowMs(lifetimeMs: number, fraction: number, warnDays: number | null): number {
  return Math.max(lifetimeMs * fraction, (warnDays ?? 0) * DAY_MS);
}

export function certStatus(notAfter: Date, warnWindow: number, now = Date.now()): CertStatus {
  const left = notAfter.getTime() - now;
  if (left <= 0) return 'expired';
  return left < warnWindow ? 'expiring' : 'valid';
}

/** certbot's `renew_before_expiry` (`30 days`, `12 hours`, `2 weeks`) in milliseconds; null if unreadable. */
export function parseRenewBeforeExpiry(value: string | null): number | null {
  const m = /^(\d{1,5})\s*(d|days?|h|hours?|w|weeks?|m|minutes?|s|seconds?)$/i.exec(value?.trim() ?? '');
  if (!m) return null;
  const unit = m[2][0].toLowerCase();
  const ms = { d: DAY_MS, h: 3_600_000, w: 7 * DAY_MS, m: 60_000, s: 1000 }[unit]!;
  return Number(m[1]) * ms;
}

/**
 * How long before expiry live renews a certificate: certbot's window as certbot ≥ 4.0 computes it (a
 * third of the lifetime, half of it under 10 days, or the lineage's own `renew_before_expiry`) or
 * the warning window, whichever comes first. certbot 2.x's fixed 30 days is not used: it renews a
 * 6-day certificate on every run and would be late for a long one.
 */
export function renewWindowMs(
  lifetimeMs: number,
  renewBeforeExpiryMs: number | null,
  warnWindow: number,
): number {
  const certbot = renewBeforeExpiryMs ?? (lifetimeMs < 10 * DAY_MS ? lifetimeMs / 2 : lifetimeMs / 3);
  return Math.max(certbot, warnWindow);
}

/** Let's Encrypt's staging CAs call themselves "(STAGING) …"; Pebble's are test CAs too but not marked. */
export function isStagingCert(issuer: string, server: string | null): boolean {
  return /\(STAGING\)|Fake LE/i.test(issuer) || server === LETS_ENCRYPT_STAGING;
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
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    const domains = (cert.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    let renewal: CertInfo['renewal'] = null;
    try {
      const conf = await readFile(join(this.config.configDir, 'renewal', `${name}.conf`), 'utf8');
      renewal = {
        server: confValue(conf, 'server'),
        deployHook: confValue(conf, 'renew_hook'),
        authenticator: confValue(conf, 'authenticator'),
        renewBeforeExpiry: confValue(conf, 'renew_before_expiry'),
        byLive:
          /(acme-hook\.main\.[jt]s|acme-challenge) put$/.test(confValue(conf, 'manual_auth_hook') ?? '') ||
          (confValue(conf, 'authenticator') === 'webroot' &&
            (confValue(conf, 'webroot_path') ?? '')
              .split(',')
              .map((p) => p.trim())
              .includes(this.config.webroot)),
      };
    } catch {
      /* a lineage without a renewal conf cannot renew: shown as null */
    }
    const lifetime = notAfter.getTime() - notBefore.getTime();
    const warnWindow = warnWindowMs(lifetime, this.config.warnFraction, this.config.warnDays);
    const renewWindow = renewWindowMs(
      lifetime,
      parseRenewBeforeExpiry(renewal?.renewBeforeExpiry ?? null),
      warnWindow,
    );
    const issuer = cert.issuer.replace(/\n/g, ', ');
    return {
      name,
      domains,
      issuer,
      serial: cert.serialNumber.toLowerCase(),
      fingerprint: cert.fingerprint256,
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      lifetimeDays: Math.round((lifetime / DAY_MS) * 100) / 100,
      daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
      status: certStatus(notAfter, warnWindow, now),
      warnFrom: new Date(notAfter.getTime() - warnWindow).toISOString(),
      renewFrom: new Date(notAfter.getTime() - renewWindow).toISOString(),
      staging: isStagingCert(issuer, renewal?.server ?? null),
      renewal,
    };
  }
}
