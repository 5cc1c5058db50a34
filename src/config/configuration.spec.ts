import { mkdtempSync, rmSync } from 'node:fs';
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
