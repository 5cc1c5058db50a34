import { certStatus } from './cert-inventory.service';
import { certbotReason, parseRenewOutput } from './certbot.driver';

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
  it('picks the telling line, not the log-file boilerplate', () => {
    const stderr =
      'Saving debug log to /x/letsencrypt.log\nSome challenges have failed.\nAsk for help or search for solutions at https://community.letsencrypt.org.';
    expect(certbotReason({ ...base, exitCode: 1, stderr, timedOut: false })).toBe(
      'Some challenges have failed.',
    );
  });
  it('says when certbot is missing or too slow', () => {
    expect(
      certbotReason({ ...base, exitCode: null, stderr: '', timedOut: false, spawnError: 'ENOENT' }),
    ).toMatch(/could not be started/);
    expect(certbotReason({ ...base, exitCode: null, stderr: '', timedOut: true })).toMatch(/did not finish/);
  });
});

describe('certStatus', () => {
  const now = Date.UTC(2026, 0, 1);
  const day = 86_400_000;
  it.each([
    [now + 30 * day, 'valid'],
    [now + 13 * day, 'expiring'],
    [now - 1, 'expired'],
  ])('%s → %s with 14 warning days', (notAfter, status) => {
    expect(certStatus(new Date(notAfter), 14, now)).toBe(status);
  });
});
