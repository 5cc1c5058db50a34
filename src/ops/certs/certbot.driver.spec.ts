import { AppConfig } from '../../config/app.config';
import { CommandRunner } from '../../common/command-runner';
import { certStatus, DAY_MS, renewWindowMs, warnWindowMs } from './cert-inventory.service';
import {
  caProblems,
  CertbotDriver,
  certbotHasAri,
  certbotReason,
  parseCertbotVersion,
  parseRenewOutput,
} from './certbot.driver';
import { CertsConfig, LETS_ENCRYPT_STAGING, parseFraction } from './certs.config';

// Output shapes recorded from certbot 2.1 (see ../shared/ops-tools/acme/NOTES.md).
const T = '/data/certbot/config';

describe('parseRenewOutput', () => {
  it('reads a successful renewal', () => {
    const stdout = `Processing ${T}/renewal/a.example.org.conf\nRenewing an existing certificate for a.example.org\nCongratulations, all renewals succeeded: \n  ${T}/live/a.example.org/fullchain.pem (success)\n`;
    expect(parseRenewOutput(stdout, '')).toEqual({ renewed: ['a.example.org'], failed: [], notDue: [] });
  });

  it('reads a renewal with nothing due', () => {
    const stdout = `The following certificates are not due for renewal yet:\n  ${T}/live/a.example.org/fullchain.pem expires on 2031-11-24 (skipped)\nNo renewals were attempted.\n`;
    expect(parseRenewOutput(stdout, '')).toEqual({ renewed: [], failed: [], notDue: ['a.example.org'] });
  });

  it('reads a partial failure with certbot’s reason from stderr', () => {
    const stdout = `Congratulations, all renewals succeeded: \n  ${T}/live/a.example.org/fullchain.pem (success)\n`;
    const stderr = `Failed to renew certificate b.example.org with error: Requesting 127.0.0.1/dir: Connection refused\nThe following certificates could not be renewed:\n  ${T}/live/b.example.org/fullchain.pem (failure)\n1 renew failure(s), 0 parse failure(s)\n`;
    expect(parseRenewOutput(stdout, stderr)).toEqual({
      renewed: ['a.example.org'],
      failed: [{ name: 'b.example.org', reason: 'Requesting 127.0.0.1/dir: Connection refused' }],
      notDue: [],
    });
  });
});

describe('certbotReason', () => {
  const base = { command: 'certbot', args: [], signal: null, stdout: '', durationMs: 1000 };
  const failed = (stderr: string, stdout = '') =>
    certbotReason({ ...base, exitCode: 1, stderr, stdout, timedOut: false });

  it('gives the lines of an unexpected error, not its heading (certbot 2.1, ACME server unreachable)', () => {
    const stderr =
      'Saving debug log to /x/letsencrypt.log\nAn unexpected error occurred:\n' +
      "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='acme.invalid', port=443): Max retries exceeded with url: /dir (Caused by NewConnectionError('Failed to establish a new connection: [Errno -2] Name or service not known'))\n" +
      'Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile /x/letsencrypt.log or re-run Certbot with -v for more details.';
    const reason = failed(stderr);
    expect(reason).not.toMatch(/^An unexpected error occurred/);
    expect(reason).toMatch(/^requests\.exceptions\.ConnectionError: .*Name or service not known/);
  });

  it('gives each domain the CA could not validate with its type and detail', () => {
    const stderr = [
      'Certbot failed to authenticate some domains (authenticator: manual). The Certificate Authority reported these problems:',
      '  Domain: a.example.org',
      '  Type:   dns',
      '  Detail: DNS problem: NXDOMAIN looking up A for a.example.org - check that a DNS record exists for this domain',
      '',
      '  Domain: b.example.org',
      '  Type:   connection',
      '  Detail: 192.0.2.1: Fetching http://b.example.org/.well-known/acme-challenge/x: Connection refused',
      '',
      'Hint: The Certificate Authority failed to verify the manually created challenge files.',
      '',
      'Some challenges have failed.',
    ].join('\n');
    expect(failed(stderr)).toBe(
      'a.example.org (dns): DNS problem: NXDOMAIN looking up A for a.example.org - check that a DNS record exists for this domain; ' +
        'b.example.org (connection): 192.0.2.1: Fetching http://b.example.org/.well-known/acme-challenge/x: Connection refused',
    );
  });

  it('gives a failing hook’s own words, without manage’s database line', () => {
    const stderr =
      "Hook '--manual-auth-hook' for a.example.org ran with error output:\n Using database sqlite:/d/db.sqlite3\n acme-challenge: Database unavailable: connect ECONNREFUSED 127.0.0.1:5432\n" +
      "Hook '--manual-auth-hook' for a.example.org reported error code 3\n";
    expect(failed(stderr)).toBe(
      '--manual-auth-hook for a.example.org failed: acme-challenge: Database unavailable: connect ECONNREFUSED 127.0.0.1:5432',
    );
  });

  it('picks the telling line, not the log-file boilerplate', () => {
    const stderr =
      'Saving debug log to /x/letsencrypt.log\nError creating new order :: too many certificates already issued\nAsk for help or search for solutions at https://community.letsencrypt.org.';
    expect(failed(stderr)).toBe('Error creating new order :: too many certificates already issued');
  });

  it('is bounded', () => {
    expect(failed(`An unexpected error occurred:\n${'x'.repeat(5000)}`).length).toBeLessThanOrEqual(2000);
  });

  it('says when certbot is missing or too slow', () => {
    expect(
      certbotReason({ ...base, exitCode: null, stderr: '', timedOut: false, spawnError: 'ENOENT' }),
    ).toMatch(/could not be started/);
    expect(certbotReason({ ...base, exitCode: null, stderr: '', timedOut: true })).toMatch(/did not finish/);
  });

  it('finds no CA block where there is none', () =>
    expect(caProblems('Some challenges have failed.')).toBeNull());
});

describe('CertbotDriver arguments', () => {
  const runner = { run: jest.fn() } as unknown as CommandRunner;
  const config = (env: Record<string, string> = {}) =>
    new CertsConfig(
      {
        CERT_RENEW_CRON: 'off',
        ACME_HOOK_COMMAND: '/usr/bin/node /srv/live/dist/src/ops/certs/acme-hook.main.js',
        ...env,
      },
      new AppConfig({ DATA_DIR: '/tmp/live-driver-spec', SECRET_KEY: 'x'.repeat(40) }),
    );
  const valueAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

  it('obtains through the manual hooks, which run live’s acme-hook entry', () => {
    const args = new CertbotDriver(runner, config()).certonlyArgs(
      ['a.example.org', 'b.example.org'],
      undefined,
    );
    expect(args).toEqual(expect.arrayContaining(['--manual', '--preferred-challenges', 'http']));
    expect(valueAfter(args, '--manual-auth-hook')).toBe(
      '/usr/bin/node /srv/live/dist/src/ops/certs/acme-hook.main.js put',
    );
    expect(valueAfter(args, '--manual-cleanup-hook')).toBe(
      '/usr/bin/node /srv/live/dist/src/ops/certs/acme-hook.main.js delete',
    );
    expect(args).not.toContain('--webroot');
    expect(valueAfter(args, '--server')).toBe('https://acme-v02.api.letsencrypt.org/directory');
  });

  it('CERTBOT_STAGING=true, or staging on the request, passes Let’s Encrypt’s staging directory', () => {
    const staged = new CertbotDriver(runner, config({ CERTBOT_STAGING: 'true' }));
    expect(valueAfter(staged.certonlyArgs(['a.example.org'], undefined), '--server')).toBe(
      LETS_ENCRYPT_STAGING,
    );
    const plain = new CertbotDriver(runner, config({ CERTBOT_SERVER: 'https://127.0.0.1:14000/dir' }));
    expect(valueAfter(plain.certonlyArgs(['a.example.org'], undefined), '--server')).toBe(
      'https://127.0.0.1:14000/dir',
    );
    expect(valueAfter(plain.certonlyArgs(['a.example.org'], undefined, { staging: true }), '--server')).toBe(
      LETS_ENCRYPT_STAGING,
    );
  });

  it('refuses CERTBOT_STAGING=true beside another ACME server', () => {
    expect(() => config({ CERTBOT_STAGING: 'true', CERTBOT_SERVER: 'https://acme.example/dir' })).toThrow(
      /CERTBOT_STAGING=true/,
    );
  });

  it('forces a due lineage by name and gives a lineage of live its hooks', () => {
    const args = new CertbotDriver(runner, config()).renewLineageArgs({
      name: 'a.example.org',
      force: true,
      liveHooks: true,
    });
    expect(args.slice(0, 3)).toEqual(['renew', '--cert-name', 'a.example.org']);
    expect(args).toContain('--force-renewal');
    expect(args).toContain('--no-random-sleep-on-renew');
    expect(valueAfter(args, '--manual-auth-hook')).toMatch(/acme-hook\.main\.js put$/);
  });

  it('refuses a hook command with shell syntax', () => {
    expect(() => config({ ACME_HOOK_COMMAND: '/usr/bin/node main.js; rm -rf /' })).toThrow(
      /ACME_HOOK_COMMAND/,
    );
  });

  it('knows which certbot checks ARI', () => {
    expect(parseCertbotVersion('certbot 2.1.0\n')).toEqual([2, 1, 0]);
    expect(certbotHasAri([2, 1, 0])).toBe(false);
    expect(certbotHasAri([4, 0, 0])).toBe(false);
    expect(certbotHasAri([4, 1, 1])).toBe(true);
    expect(certbotHasAri([5, 0, 0])).toBe(true);
    expect(certbotHasAri(null)).toBe(false);
  });
});

describe('lifetime-relative thresholds', () => {
  const now = Date.UTC(2026, 0, 1);
  const third = parseFraction('1/3')!;
  // [lifetime in days, days left, status]
  it.each([
    [6, 2.5, 'valid'],
    [6, 1.9, 'expiring'],
    [45, 16, 'valid'],
    [45, 14.9, 'expiring'],
    [90, 31, 'valid'],
    [90, 29, 'expiring'],
    [90, -0.01, 'expired'],
  ])('a %s-day certificate with %s days left is %s', (lifetime, left, status) => {
    const window = warnWindowMs(lifetime * DAY_MS, third, null);
    expect(certStatus(new Date(now + left * DAY_MS), window, now)).toBe(status);
  });

  it('CERT_WARN_DAYS is a floor under the fraction', () => {
    expect(warnWindowMs(90 * DAY_MS, third, 40)).toBe(40 * DAY_MS);
    expect(warnWindowMs(6 * DAY_MS, third, 1)).toBe(2 * DAY_MS);
  });

  it('renews within certbot 4’s window (half under 10 days, a third above) or the warning one, whichever is first', () => {
    expect(renewWindowMs(6 * DAY_MS, null, 2 * DAY_MS)).toBe(3 * DAY_MS);
    expect(renewWindowMs(45 * DAY_MS, null, 15 * DAY_MS)).toBe(15 * DAY_MS);
    expect(renewWindowMs(90 * DAY_MS, null, 30 * DAY_MS)).toBe(30 * DAY_MS);
    // A lineage's own renew_before_expiry wins when it is earlier...
    expect(renewWindowMs(90 * DAY_MS, 40 * DAY_MS, 30 * DAY_MS)).toBe(40 * DAY_MS);
    // ...and the warning window when that is.
    expect(renewWindowMs(45 * DAY_MS, 5 * DAY_MS, 15 * DAY_MS)).toBe(15 * DAY_MS);
  });

  it.each([
    ['1/3', 1 / 3],
    ['0.25', 0.25],
    ['.5', 0.5],
    ['0', null],
    ['1', null],
    ['2/3x', null],
    ['abc', null],
  ])('CERT_WARN_FRACTION=%s → %s', (text, value) => {
    expect(parseFraction(text)).toBe(value);
  });
});
