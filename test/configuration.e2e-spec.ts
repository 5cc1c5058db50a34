import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryPoint, ROOT } from './support/entry-point';

/** Starting live with bad settings: one line per problem, all at once, exit 2, no secret printed. */
describe('configuration check at start-up', () => {
  const bad: Record<string, string> = {
    PORT: 'eighty',
    TRUST_PROXY: 'maybe',
    DATABASE_URL: 'mysql://admin:db-secret-pw@db.example/live',
    SECRET_KEY: 'too-short-secret',
    CHAT_RATE: '-1',
    CHAT_HISTORY_JOIN_TIMEOUT_MS: 'soon',
    REDIS_URL: 'http://cache:redis-secret-pw@cache.example',
    CERT_WARN_DAYS: 'abc',
    VPN_RUNNER: 'lokal',
    METRICS_TOKEN: 'short-token',
    DATABASE_QUERY_TIMEOUT_MS: '5',
  };

  it('names every bad variable in one line each and exits 2, printing no secret and no stack', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'live-config-'));
    const run = spawnSync(process.execPath, entryPoint('main'), {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...bad },
      encoding: 'utf8',
      timeout: 30_000,
    });
    rmSync(dataDir, { recursive: true, force: true });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    // CERT_WARN_DAYS and VPN_RUNNER need a valid core configuration first (their defaults live
    // under DATA_DIR); everything else is reported in the same run.
    const named = lines.map((l) => /^live: Invalid configuration: ([A-Z_]+)=/.exec(l)?.[1]);
    expect(named.every((n) => n !== undefined)).toBe(true);
    expect(new Set(named)).toEqual(
      new Set(Object.keys(bad).filter((k) => k !== 'CERT_WARN_DAYS' && k !== 'VPN_RUNNER')),
    );
    for (const secret of ['db-secret-pw', 'redis-secret-pw', 'too-short-secret', 'short-token'])
      expect(output).not.toContain(secret);
    expect(output).not.toMatch(/^\s+at /m);
  });

  it('with the core settings right, the feature settings are all reported too', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'live-config-'));
    const run = spawnSync(process.execPath, entryPoint('main'), {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATA_DIR: dataDir,
        CERT_WARN_DAYS: 'abc',
        VPN_RUNNER: 'lokal',
        CERT_RENEW_CRON: '61 * * * *',
        CHAT_RETENTION_CRON: '* * * * * 99',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    rmSync(dataDir, { recursive: true, force: true });
    expect(run.status).toBe(2);
    const named = run.stderr
      .trim()
      .split('\n')
      .map((l) => /^live: Invalid configuration: ([A-Z_]+)=/.exec(l)?.[1]);
    expect(named.sort()).toEqual(['CERT_RENEW_CRON', 'CERT_WARN_DAYS', 'CHAT_RETENTION_CRON', 'VPN_RUNNER']);
  });
});
