import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationProblems, checkConfiguration, loadConfiguration } from './configuration';

describe('loadConfiguration', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'live-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds every feature configuration from the object given, not from process.env', () => {
    const saved = process.env.CHAT_RATE;
    process.env.CHAT_RATE = 'abc'; // would be a problem if it were read
    try {
      const config = loadConfiguration({ DATA_DIR: dir, CHAT_RATE: '7', METRICS_TOKEN: 'x'.repeat(32) });
      expect(config.chat.rate).toBe(7);
      expect(config.metrics.token).toBe('x'.repeat(32));
      expect(config.app.dataDir).toBe(dir);
      expect(config.vpn).toBeDefined();
      expect(config.certs).toBeDefined();
      expect(config.alerts).toBeDefined();
    } finally {
      if (saved === undefined) delete process.env.CHAT_RATE;
      else process.env.CHAT_RATE = saved;
    }
  });

  it('reports every problem at once, one line each, naming the variable and hiding secrets', () => {
    const env = {
      DATA_DIR: dir,
      CHAT_RATE: '-1',
      CERT_WARN_DAYS: 'abc',
      VPN_RUNNER: 'lokal',
      METRICS_TOKEN: 'short-secret',
      CERT_RENEW_CRON: '61 * * * *',
    };
    let thrown: unknown;
    try {
      loadConfiguration(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigurationProblems);
    const problems = (thrown as ConfigurationProblems).problems;
    for (const name of ['CHAT_RATE', 'CERT_WARN_DAYS', 'VPN_RUNNER', 'METRICS_TOKEN', 'CERT_RENEW_CRON'])
      expect(problems.filter((line) => line.includes(`${name}=`))).toHaveLength(1);
    expect(problems.join('\n')).not.toContain('short-secret');
    expect(checkConfiguration(env)).toEqual(problems);
    expect(checkConfiguration({ DATA_DIR: dir })).toEqual([]);
  });
});

/**
 * Every variable the README documents, fed a bad value: the start-up check names it in exactly one
 * line and never prints a secret. A variable added to the README without a check (or without a row
 * here) fails this test.
 */
describe('every documented variable rejects a bad value', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const documented = new Set<string>();
  for (const line of readme.split('\n')) {
    const firstCell = /^\| ([^|]+)\|/.exec(line)?.[1] ?? '';
    for (const [, name] of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) documented.add(name);
  }
  const emailTrio = {
    ALERT_SMTP_URL: 'smtp://mail.example.org:25',
    ALERT_EMAIL_FROM: 'live@example.org',
    ALERT_EMAIL_TO: 'ops@example.org',
  };
  /** A bad value for each variable (default 'abc'), with what else must be set for it to be read. */
  const bad: Record<string, { value: string; with?: Record<string, string> }> = {
    HOST: { value: 'chat server' },
    TRUST_PROXY: { value: '10.0.0.1/33' },
    LOGIN_MAX_FAILURES_PER_ADDRESS: { value: '0' },
    ALLOWED_HOSTS: { value: 'example.org;rm -rf' },
    ALERT_EMAIL_FROM: { value: 'not-an-address', with: emailTrio },
    ALERT_EMAIL_TO: { value: 'ops@example.org,nobody', with: emailTrio },
    ALERT_SMTP_URL: { value: 'abc', with: emailTrio },
    ALERT_SMTP_TIMEOUT_MS: { value: 'abc', with: emailTrio },
    SECRET_KEY: { value: 'a-short-secret-value' },
    METRICS_TOKEN: { value: 'short-token' },
    OVPN_DATA: { value: 'vol ume' },
    OVPN_IMAGE: { value: 'image name' },
    REDIS_PREFIX: { value: 'live prefix' },
    SESSION_COOKIE_NAME: { value: 'session id' },
    SESSION_COOKIE_DOMAIN: { value: 'https://example.org' },
    CSRF_COOKIE_NAME: { value: 'csrf;token' },
    CSRF_TRUSTED_ORIGINS: { value: 'www.example.org' },
    PASSWORD_MIN_LENGTH: { value: '0' },
  };
  // Paths and program names may be almost anything; a NUL byte is what no path can hold.
  for (const name of documented)
    if (/_(BIN|DIR|WEBROOT)$/.test(name) || name === 'DATA_DIR' || name === 'CERTBOT_DEPLOY_HOOK')
      bad[name] ??= { value: 'path\0with-nul' };
  const secrets = ['a-short-secret-value', 'short-token'];

  it('finds the variables in the README', () => expect(documented.size).toBeGreaterThan(60));

  it.each([...documented].sort())('%s', (name) => {
    const dir = mkdtempSync(join(tmpdir(), 'live-config-'));
    try {
      const { value, with: context = {} } = bad[name] ?? { value: 'abc' };
      const lines = checkConfiguration({ DATA_DIR: dir, ...context, [name]: value });
      expect(lines.filter((l) => l.startsWith(`Invalid configuration: ${name}=`))).toHaveLength(1);
      for (const secret of secrets) expect(lines.join('\n')).not.toContain(secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
