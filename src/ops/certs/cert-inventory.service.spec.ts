import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../config/app.config';
import { CertInfo, CertInventoryService, DAY_MS } from './cert-inventory.service';
import { CertsConfig, LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING } from './certs.config';

/**
 * Real certificates of different lifetimes, made with openssl into certbot's layout
 * (live/<name>/cert.pem, renewal/<name>.conf), read by the inventory at chosen moments of their life.
 */
describe('CertInventoryService with certificates of 6, 45 and 90 days', () => {
  let dir: string;
  const made = Date.now();

  function lineage(name: string, days: number, conf: Record<string, string>, subject = `/CN=${name}`): void {
    const live = join(dir, 'certbot', 'config', 'live', name);
    mkdirSync(live, { recursive: true });
    mkdirSync(join(dir, 'certbot', 'config', 'renewal'), { recursive: true });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        String(days),
        '-subj',
        subject,
        '-addext',
        `subjectAltName=DNS:${name},DNS:www.${name}`,
        '-keyout',
        join(live, 'privkey.pem'),
        '-out',
        join(live, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const lines = Object.entries(conf).map(([k, v]) => `${k} = ${v}`);
    writeFileSync(
      join(dir, 'certbot', 'config', 'renewal', `${name}.conf`),
      `[renewalparams]\n${lines.join('\n')}\n`,
    );
  }

  function inventory(env: Record<string, string> = {}): CertInventoryService {
    const app = new AppConfig({ DATA_DIR: dir, SECRET_KEY: 'x'.repeat(40) });
    return new CertInventoryService(new CertsConfig({ CERT_RENEW_CRON: 'off', ...env }, app));
  }

  /** The inventory as it will read `days` days after the certificates were made. */
  async function at(days: number, env: Record<string, string> = {}): Promise<Map<string, CertInfo>> {
    const list = await inventory(env).list(made + days * DAY_MS);
    return new Map(list.map((c) => [c.name, c]));
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'live-inventory-'));
    const webroot = join(dir, 'acme-webroot');
    lineage('six.example.org', 6, {
      authenticator: 'manual',
      manual_auth_hook: '/usr/bin/node /srv/live/dist/src/ops/certs/acme-hook.main.js put',
      server: LETS_ENCRYPT_PRODUCTION,
    });
    lineage('fortyfive.example.org', 45, {
      authenticator: 'webroot',
      webroot_path: `${webroot},`,
      server: LETS_ENCRYPT_PRODUCTION,
    });
    lineage(
      'ninety.example.org',
      90,
      { authenticator: 'nginx', server: LETS_ENCRYPT_STAGING, renew_before_expiry: '40 days' },
      '/CN=ninety.example.org/O=(STAGING) Pretend Pear X1',
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads lifetime, domains and where the renewal came from', async () => {
    const certs = await at(0);
    expect([...certs.keys()]).toEqual(['fortyfive.example.org', 'ninety.example.org', 'six.example.org']);
    expect(certs.get('six.example.org')).toMatchObject({
      lifetimeDays: 6,
      domains: ['six.example.org', 'www.six.example.org'],
      status: 'valid',
      staging: false,
      renewal: { authenticator: 'manual', byLive: true },
    });
    // Obtained through live's webroot before the hooks: live renews it with its hooks.
    expect(certs.get('fortyfive.example.org')!.renewal).toMatchObject({
      authenticator: 'webroot',
      byLive: true,
    });
    // Staging by its renewal server; not live's (another authenticator): renewed as certbot has it.
    expect(certs.get('ninety.example.org')).toMatchObject({ staging: true, renewal: { byLive: false } });
  });

  // [certificate, days after issuance, status]
  it.each([
    ['six.example.org', 3.9, 'valid'],
    ['six.example.org', 4.1, 'expiring'], // 1.9 of 6 days left: below a third
    ['fortyfive.example.org', 29, 'valid'], // 16 days left
    ['fortyfive.example.org', 30.5, 'expiring'], // 14.5 left: the old fixed 14 days would say valid
    ['ninety.example.org', 59, 'valid'], // 31 left
    ['ninety.example.org', 61, 'expiring'], // 29 left
    ['ninety.example.org', 90.1, 'expired'],
  ])('%s, %s days after issuance, is %s', async (name, days, status) => {
    expect((await at(days)).get(name)!.status).toBe(status);
  });

  it('CERT_WARN_DAYS is a floor and CERT_WARN_FRACTION the rule', async () => {
    // 20 days left of 90: valid with a tenth, expiring with a floor of 21 days.
    expect((await at(70, { CERT_WARN_FRACTION: '0.1' })).get('ninety.example.org')!.status).toBe('valid');
    expect(
      (await at(70, { CERT_WARN_FRACTION: '0.1', CERT_WARN_DAYS: '21' })).get('ninety.example.org')!.status,
    ).toBe('expiring');
  });

  it('renews from half of a 6-day lifetime, a third of 45 days, and 90 days’ own renew_before_expiry of 40', async () => {
    const certs = await at(0);
    const before = (name: string) =>
      (new Date(certs.get(name)!.notAfter).getTime() - new Date(certs.get(name)!.renewFrom).getTime()) /
      DAY_MS;
    expect(before('six.example.org')).toBeCloseTo(3, 5);
    expect(before('fortyfive.example.org')).toBeCloseTo(15, 5);
    expect(before('ninety.example.org')).toBeCloseTo(40, 5);
    // The warning comes after renewal has had its chances (or with it, for the default 90 days).
    for (const c of certs.values())
      expect(new Date(c.warnFrom).getTime()).toBeGreaterThanOrEqual(new Date(c.renewFrom).getTime());
  });
});
