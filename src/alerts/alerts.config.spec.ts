import { ConfigError } from '../config/validate-env';
import { AlertsConfig } from './alerts.config';
import { webhookBody } from './webhook.channel';
import { emailText } from './email.channel';

const email = {
  ALERT_SMTP_URL: 'smtp://127.0.0.1:2525',
  ALERT_EMAIL_FROM: 'live@example.org',
  ALERT_EMAIL_TO: 'a@example.org,b@example.org',
};

describe('AlertsConfig', () => {
  it('no channel configured is valid', () => {
    const c = new AlertsConfig({});
    expect(c.webhook).toBeNull();
    expect(c.email).toBeNull();
  });

  it('reads the webhook with defaults', () => {
    const c = new AlertsConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.org/services/T0/B0/x' });
    expect(c.webhook).toEqual({
      url: 'https://hooks.example.org/services/T0/B0/x',
      timeoutMs: 10_000,
      retries: 3,
      backoffMs: 500,
    });
  });

  it('reads the email trio and splits the recipient list', () => {
    const c = new AlertsConfig({ ...email, ALERT_SMTP_URL: 'smtps://user:s3cret@mail.example.org:465' });
    expect(c.email).toEqual({
      smtpUrl: 'smtps://user:s3cret@mail.example.org:465',
      timeoutMs: 15_000,
      from: 'live@example.org',
      to: ['a@example.org', 'b@example.org'],
    });
  });

  it.each([
    [
      { ALERT_WEBHOOK_URL: 'ftp://example.org/x' },
      /ALERT_WEBHOOK_URL="ftp:\/\/example.org\/x":.*must be an http/,
    ],
    [{ ALERT_WEBHOOK_URL: 'not a url' }, /ALERT_WEBHOOK_URL/],
    [{ ALERT_WEBHOOK_RETRIES: '-1' }, /ALERT_WEBHOOK_RETRIES="-1":.*must be an integer 0..10/],
    [{ ALERT_WEBHOOK_RETRIES: 'many' }, /ALERT_WEBHOOK_RETRIES/],
    [{ ALERT_WEBHOOK_TIMEOUT_MS: '5' }, /ALERT_WEBHOOK_TIMEOUT_MS="5"/],
    [{ ALERT_WEBHOOK_BACKOFF_MS: '0' }, /ALERT_WEBHOOK_BACKOFF_MS="0"/],
    [{ ...email, ALERT_SMTP_URL: 'http://mail.example.org' }, /ALERT_SMTP_URL="http:\/\/mail.example.org"/],
    [
      { ALERT_SMTP_URL: 'smtp://mail.example.org' },
      /must be set together \(missing ALERT_EMAIL_FROM, ALERT_EMAIL_TO\)/,
    ],
    [{ ...email, ALERT_EMAIL_TO: undefined }, /must be set together \(missing ALERT_EMAIL_TO\)/],
    [{ ...email, ALERT_EMAIL_FROM: 'live' }, /ALERT_EMAIL_FROM="live": must be an email address/],
    [{ ...email, ALERT_EMAIL_TO: 'a@example.org, nope' }, /ALERT_EMAIL_TO=.*\("nope" is not one\)/],
    [{ ...email, ALERT_EMAIL_TO: ' , ' }, /ALERT_EMAIL_TO=" , ": must be a comma-separated list/],
  ])('rejects %j', (env, message) => {
    expect(() => new AlertsConfig(env)).toThrow(ConfigError);
    expect(() => new AlertsConfig(env)).toThrow(message);
  });
});

describe('alert bodies', () => {
  const alert = {
    event: 'cert.renewal_failed',
    severity: 'critical' as const,
    subject: 'Renewal failed for a&b.example.org',
    detail: 'certbot said <error> & more',
    at: new Date('2026-11-25T07:00:00.000Z'),
  };

  it('the webhook body has the issue fields and a Slack/Mattermost `text`, escaped there only', () => {
    expect(webhookBody(alert)).toEqual({
      event: 'cert.renewal_failed',
      severity: 'critical',
      subject: 'Renewal failed for a&b.example.org',
      detail: 'certbot said <error> & more',
      at: '2026-11-25T07:00:00.000Z',
      text: '[live] critical: Renewal failed for a&amp;b.example.org\ncertbot said &lt;error&gt; &amp; more',
    });
  });

  it('the email text carries the detail, event and time', () => {
    const text = emailText(alert);
    expect(text).toContain('certbot said <error> & more');
    expect(text).toContain('Event: cert.renewal_failed');
    expect(text).toContain('Time: 2026-11-25T07:00:00.000Z');
  });
});
