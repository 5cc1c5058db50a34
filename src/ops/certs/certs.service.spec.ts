import { Repository } from 'typeorm';
import { CommandResult } from '../../common/command-runner';
import { OpsEvent, OpsEvents } from '../../common/ops-events';
import { JobLockService } from '../../database/job-lock.service';
import { HealthRegistry } from '../../health/health.registry';
import { MetricsService } from '../../metrics/metrics.service';
import { CertDeployChecker } from './cert-deploy-check.service';
import { CertInfo, CertInventoryService } from './cert-inventory.service';
import { CertRun } from './cert-run.entity';
import { CertbotDriver, CertbotVersion, LineageRenewal } from './certbot.driver';
import { CertsConfig } from './certs.config';
import { CertsService } from './certs.service';

const T = '/data/certbot/config';
const DAY = 86_400_000;

/** A lineage due (renewFrom passed) or not, obtained through live or not. */
function cert(name: string, due: boolean, byLive = true): CertInfo {
  const now = Date.now();
  return {
    name,
    domains: [name],
    issuer: 'CN=Test CA',
    serial: '01',
    fingerprint: 'AA',
    notBefore: new Date(now - 30 * DAY).toISOString(),
    notAfter: new Date(now + 15 * DAY).toISOString(),
    lifetimeDays: 45,
    daysLeft: 15,
    status: 'valid',
    warnFrom: new Date(now + 5 * DAY).toISOString(),
    renewFrom: new Date(now + (due ? -DAY : DAY)).toISOString(),
    staging: false,
    renewal: { server: null, deployHook: null, authenticator: 'manual', renewBeforeExpiry: null, byLive },
  };
}

const result = (stdout: string, stderr = '', exitCode = 0): CommandResult => ({
  command: 'certbot',
  args: [],
  exitCode,
  signal: null,
  stdout,
  stderr,
  timedOut: false,
  durationMs: 10,
});
const renewedOut = (name: string) =>
  result(`Congratulations, all renewals succeeded: \n  ${T}/live/${name}/fullchain.pem (success)\n`);

/** CertsService's renewal decisions with certbot and the disk replaced: which certbot calls, which outcome. */
describe('CertsService renewal decisions', () => {
  let certs: CertInfo[];
  let version: CertbotVersion;
  let calls: string[];
  let lineageResults: Record<string, CommandResult>;
  let events: OpsEvent[];

  function service(): CertsService {
    let id = 0;
    const runs = {
      create: (x: Partial<CertRun>) => x,
      save: async (x: CertRun) => Object.assign(x, { id: x.id ?? ++id }),
    } as unknown as Repository<CertRun>;
    const driver = {
      certbotVersion: async () => version,
      renew: async (force: boolean) => {
        calls.push(force ? 'renew --force-renewal' : 'renew');
        return result(`No renewals were attempted.\n`);
      },
      renewLineage: async (l: LineageRenewal) => {
        calls.push(
          `renew --cert-name ${l.name}${l.force ? ' --force-renewal' : ''}${l.liveHooks ? ' +hooks' : ''}`,
        );
        return lineageResults[l.name] ?? renewedOut(l.name);
      },
    } as unknown as CertbotDriver;
    const inventory = { list: async () => certs } as unknown as CertInventoryService;
    const lock = { acquire: async () => ({ release: async () => undefined }) } as unknown as JobLockService;
    const ops = new OpsEvents();
    ops.subscribe((e) => void events.push(e));
    const deploy = { check: async () => [], latest: async () => new Map() } as unknown as CertDeployChecker;
    return new CertsService(
      runs,
      driver,
      inventory,
      lock,
      ops,
      { staging: false, timeoutMs: 60_000 } as CertsConfig,
      {} as HealthRegistry,
      {} as MetricsService,
      deploy,
    );
  }

  beforeEach(() => {
    version = [2, 1, 0];
    calls = [];
    lineageResults = {};
    events = [];
  });

  it('no certificate: `none`, certbot not run', async () => {
    certs = [];
    const run = await service().renewNow('test');
    expect(run).toMatchObject({ outcome: 'none', exitCode: null, renewed: [], failed: [] });
    expect(run.reason).toMatch(/^No certificates yet: obtain the first one/);
    expect(calls).toEqual([]);
  });

  it('certbot 2.1: only the due lineages, each by name and forced; the others without running certbot', async () => {
    certs = [
      cert('due.example.org', true),
      cert('fresh.example.org', false),
      cert('other.example.org', true, false),
    ];
    const run = await service().renewNow('test');
    expect(calls).toEqual([
      'renew --cert-name due.example.org --force-renewal +hooks',
      'renew --cert-name other.example.org --force-renewal',
    ]);
    expect(run).toMatchObject({
      outcome: 'renewed',
      renewed: ['due.example.org', 'other.example.org'],
      exitCode: 0,
    });
  });

  it('nothing due: `not-due`, certbot not run', async () => {
    certs = [cert('fresh.example.org', false)];
    expect(await service().renewNow('test')).toMatchObject({ outcome: 'not-due', exitCode: null });
    expect(calls).toEqual([]);
  });

  it('certbot with ARI (4.1): a plain renew first, then what live still finds due', async () => {
    version = [4, 1, 0];
    certs = [cert('due.example.org', true), cert('fresh.example.org', false)];
    await service().renewNow('test');
    expect(calls).toEqual(['renew', 'renew --cert-name due.example.org --force-renewal +hooks']);
  });

  it('force: every lineage by name and forced, live’s own with this installation’s hooks', async () => {
    version = [4, 1, 0];
    certs = [
      cert('due.example.org', true),
      cert('fresh.example.org', false),
      cert('other.example.org', false, false),
    ];
    await service().renewNow('test', true);
    expect(calls).toEqual([
      'renew --cert-name due.example.org --force-renewal +hooks',
      'renew --cert-name fresh.example.org --force-renewal +hooks',
      'renew --cert-name other.example.org --force-renewal',
    ]);
  });

  it('a failed lineage carries the CA’s words; the others still renew; the run is partial and alerted', async () => {
    certs = [cert('bad.example.org', true), cert('good.example.org', true)];
    lineageResults['bad.example.org'] = result(
      '',
      [
        'Certbot failed to authenticate some domains (authenticator: manual). The Certificate Authority reported these problems:',
        '  Domain: bad.example.org',
        '  Type:   unauthorized',
        '  Detail: 192.0.2.7: Invalid response from http://bad.example.org/.well-known/acme-challenge/x: 404',
        '',
        'Failed to renew certificate bad.example.org with error: Some challenges have failed.',
        'All renewals failed. The following certificates could not be renewed:',
        `  ${T}/live/bad.example.org/fullchain.pem (failure)`,
      ].join('\n'),
      1,
    );
    const run = await service().renewNow('test');
    expect(run.outcome).toBe('partial');
    expect(run.renewed).toEqual(['good.example.org']);
    expect(run.failed).toEqual([
      {
        name: 'bad.example.org',
        reason:
          'bad.example.org (unauthorized): 192.0.2.7: Invalid response from http://bad.example.org/.well-known/acme-challenge/x: 404',
      },
    ]);
    expect(run.exitCode).toBe(1);
    expect(run.reason).toContain('Invalid response');
    await new Promise((r) => setImmediate(r));
    expect(events.map((e) => e.event)).toEqual(['cert.renewal_failed']);
    expect(events[0].detail).toContain('Invalid response');
  });
});
