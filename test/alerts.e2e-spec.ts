import { getRepositoryToken } from '@nestjs/typeorm';
import request from 'supertest';
import { Repository } from 'typeorm';
import { AlertEntity } from '../src/alerts/alert.entity';
import { AlertsConfig } from '../src/alerts/alerts.config';
import { AlertsService } from '../src/alerts/alerts.service';
import { OpsEvents } from '../src/common/ops-events';
import { AlertReceivers, startAlertReceivers } from './support/alert-receivers';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';

interface AlertRow {
  id: number;
  event: string;
  severity: string;
  subject: string;
  detail: string;
  dedupeKey: string | null;
  channel: string;
  outcome: string;
  error: string | null;
  attempts: number;
  createdAt: string;
}

const TIMEOUT_MS = 400;

describe.each(databaseVariants())('alerts on $name', (variant) => {
  let t: TestApp;
  let r: AlertReceivers;
  let teardownDb: () => Promise<void>;
  let staff: LoginSession;
  let plain: LoginSession;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    r = await startAlertReceivers();
    t = await startApp({
      ...db.env,
      ALERT_WEBHOOK_URL: r.webhookUrl,
      ALERT_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      ALERT_WEBHOOK_RETRIES: '2',
      ALERT_WEBHOOK_BACKOFF_MS: '20',
      ALERT_SMTP_URL: r.smtpUrl,
      ALERT_EMAIL_FROM: 'live@example.org',
      ALERT_EMAIL_TO: 'ops@example.org, oncall@example.org',
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
    staff = await login(t, 'boss', 'boss-pass');
    plain = await login(t, 'joe', 'joe-pass');
  });

  afterAll(async () => {
    await t?.close();
    await r?.close();
    await teardownDb?.();
  });

  beforeEach(() => r.reset());

  const postTest = () =>
    request(t.baseUrl).post('/admin/alerts/test').set('Cookie', staff.cookie).set('X-CSRFToken', staff.csrf);
  const listAlerts = async (limit = 50): Promise<AlertRow[]> => {
    const res = await request(t.baseUrl)
      .get(`/admin/alerts?limit=${limit}`)
      .set('Cookie', staff.cookie)
      .expect(200);
    return res.body.alerts as AlertRow[];
  };

  it('anonymous is 401, non-staff 403, on both endpoints', async () => {
    await request(t.baseUrl).get('/admin/alerts').expect(401);
    await request(t.baseUrl).get('/admin/alerts').set('Cookie', plain.cookie).expect(403);
    await request(t.baseUrl)
      .post('/admin/alerts/test')
      .set('Cookie', plain.cookie)
      .set('X-CSRFToken', plain.csrf)
      .expect(403);
    expect(r.webhooks).toHaveLength(0);
  });

  it('POST /admin/alerts/test reaches the webhook and the SMTP server', async () => {
    const res = await postTest().expect(200);
    expect(res.body.results).toEqual(
      expect.arrayContaining([
        { channel: 'webhook', outcome: 'sent', attempts: 1, error: null },
        { channel: 'email', outcome: 'sent', attempts: 1, error: null },
      ]),
    );
    expect(r.webhooks).toHaveLength(1);
    const hook = r.webhooks[0];
    expect(hook.method).toBe('POST');
    expect(hook.contentType).toMatch(/^application\/json/);
    expect(hook.body).toEqual({
      event: 'alert.test',
      severity: 'info',
      subject: 'Test alert',
      detail: expect.stringContaining('test alert'),
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      text: expect.stringContaining('[live] info: Test alert'),
    });
    expect(r.mails).toHaveLength(1);
    const mail = r.mails[0];
    expect(mail.from).toBe('live@example.org');
    expect(mail.to.sort()).toEqual(['oncall@example.org', 'ops@example.org']);
    expect(mail.subject).toBe('[live] info: Test alert');
    expect(mail.raw).toMatch(/^From: live@example\.org/m);
    expect(mail.raw).toMatch(/^To: ops@example\.org, oncall@example\.org/m);
    expect(mail.body).toContain('If you read this, the channel works.');
    expect(mail.body).toContain('Event: alert.test');
    expect(mail.body).toMatch(/Time: \d{4}-\d\d-\d\dT/);
  });

  it('retries 500, 500 then 200: three attempts, the row says sent with attempts=3', async () => {
    r.replies = [500, 500, 200];
    const res = await postTest().expect(200);
    expect(res.body.results).toContainEqual({
      channel: 'webhook',
      outcome: 'sent',
      attempts: 3,
      error: null,
    });
    expect(r.webhooks).toHaveLength(3);
    // Backoff: the gaps grow (20 ms, then 40 ms).
    expect(r.webhooks[1].at - r.webhooks[0].at).toBeGreaterThanOrEqual(15);
    expect(r.webhooks[2].at - r.webhooks[1].at).toBeGreaterThanOrEqual(35);
    const [latestWebhook] = (await listAlerts()).filter((a) => a.channel === 'webhook');
    expect(latestWebhook).toMatchObject({ event: 'alert.test', outcome: 'sent', attempts: 3 });
  });

  it('a webhook that always fails is recorded failed; the email is still sent', async () => {
    r.defaultReply = 503;
    const res = await postTest().expect(200);
    expect(res.body.results).toContainEqual({
      channel: 'webhook',
      outcome: 'failed',
      attempts: 3,
      error: expect.stringContaining('HTTP 503'),
    });
    expect(res.body.results).toContainEqual({ channel: 'email', outcome: 'sent', attempts: 1, error: null });
    expect(r.webhooks).toHaveLength(3);
    expect(r.mails).toHaveLength(1);
    const rows = await listAlerts(2);
    expect(rows.map((a) => `${a.channel}:${a.outcome}`).sort()).toEqual(['email:sent', 'webhook:failed']);
  });

  it('a 4xx other than 429 is not retried', async () => {
    r.defaultReply = 404;
    const res = await postTest().expect(200);
    expect(res.body.results).toContainEqual({
      channel: 'webhook',
      outcome: 'failed',
      attempts: 1,
      error: expect.stringContaining('HTTP 404'),
    });
    expect(r.webhooks).toHaveLength(1);
  });

  it('a webhook that hangs times out; the API answers and the email goes out meanwhile', async () => {
    r.defaultReply = 'hang';
    const started = Date.now();
    const res = await postTest().expect(200);
    const took = Date.now() - started;
    expect(res.body.results).toContainEqual({
      channel: 'webhook',
      outcome: 'failed',
      attempts: 3,
      error: expect.stringContaining(`timed out after ${TIMEOUT_MS} ms`),
    });
    expect(res.body.results).toContainEqual({ channel: 'email', outcome: 'sent', attempts: 1, error: null });
    // 3 attempts × 400 ms + 60 ms backoff, with headroom; far from a hang.
    expect(took).toBeGreaterThanOrEqual(3 * TIMEOUT_MS);
    expect(took).toBeLessThan(3 * TIMEOUT_MS + 3000);
    // The API stays responsive during and after.
    await request(t.baseUrl).get('/health').expect(200);
  });

  it('an OpsEvent published on the app bus produces one alert per channel', async () => {
    t.app.get(OpsEvents).publish({
      event: 'cert.renewal_failed',
      severity: 'critical',
      subject: 'Renewal failed for example.org',
      detail: 'certbot: Failed to connect to the ACME server <pebble>',
    });
    await r.waitFor(() => r.webhooks.length === 1 && r.mails.length === 1);
    expect(r.webhooks[0].body).toMatchObject({
      event: 'cert.renewal_failed',
      severity: 'critical',
      subject: 'Renewal failed for example.org',
      detail: 'certbot: Failed to connect to the ACME server <pebble>',
      // Slack/Mattermost: <, > and & escaped in `text` only.
      text: '[live] critical: Renewal failed for example.org\ncertbot: Failed to connect to the ACME server &lt;pebble&gt;',
    });
    expect(r.mails[0].subject).toBe('[live] critical: Renewal failed for example.org');
    expect(r.mails[0].body).toContain('certbot: Failed to connect to the ACME server <pebble>');
    // The rows are written right after delivery; wait for both.
    let rows: AlertRow[] = [];
    for (let i = 0; i < 100; i++) {
      rows = (await listAlerts(10)).filter((a) => a.event === 'cert.renewal_failed');
      if (rows.length === 2) break;
      await new Promise((res) => setTimeout(res, 25));
    }
    expect(rows.map((a) => `${a.channel}:${a.outcome}`).sort()).toEqual(['email:sent', 'webhook:sent']);
  });

  it('the same dedupeKey twice in a day is sent once per channel, the second recorded suppressed', async () => {
    const service = t.app.get(AlertsService);
    const event = {
      event: 'cert.expiring',
      severity: 'warning' as const,
      subject: 'example.org expires in 5 days',
      detail: 'notAfter 2026-11-30T00:00:00Z',
      dedupeKey: 'cert.expiring:example.org',
    };
    const first = await service.raise(event);
    expect(first.map((x) => x.outcome)).toEqual(['sent', 'sent']);
    const second = await service.raise(event);
    expect(second.map((x) => x.outcome)).toEqual(['suppressed', 'suppressed']);
    // Concurrent duplicates too.
    const both = await Promise.all([service.raise(event), service.raise(event)]);
    expect(both.flat().map((x) => x.outcome)).toEqual([
      'suppressed',
      'suppressed',
      'suppressed',
      'suppressed',
    ]);
    expect(r.webhooks).toHaveLength(1);
    expect(r.mails).toHaveLength(1);
    // Another instance (its own AlertsService, same database) sees the table and suppresses too.
    const otherInstance = new AlertsService(
      t.app.get(AlertsConfig),
      new OpsEvents(),
      t.app.get<Repository<AlertEntity>>(getRepositoryToken(AlertEntity)),
    );
    expect((await otherInstance.raise(event)).map((x) => x.outcome)).toEqual(['suppressed', 'suppressed']);
    expect(r.webhooks).toHaveLength(1);
    expect(r.mails).toHaveLength(1);
    // A different key is not affected.
    await service.raise({ ...event, dedupeKey: 'cert.expiring:other.org', subject: 'other.org expires' });
    expect(r.webhooks).toHaveLength(2);
    const rows = (await listAlerts(20)).filter((a) => a.event === 'cert.expiring');
    expect(rows.filter((a) => a.outcome === 'sent')).toHaveLength(4);
    expect(rows.filter((a) => a.outcome === 'suppressed')).toHaveLength(8);
    expect(rows[0].dedupeKey).toBe('cert.expiring:other.org');
  });

  it('the dedupe window is 24 hours: a sent row 23 h old suppresses, one 25 h old does not', async () => {
    const repo = t.app.get<Repository<AlertEntity>>(getRepositoryToken(AlertEntity));
    const hour = 60 * 60 * 1000;
    const base = {
      event: 'cert.expiring',
      severity: 'warning',
      subject: 'old',
      detail: 'old',
      outcome: 'sent' as const,
      error: null,
      attempts: 1,
    };
    for (const channel of ['webhook', 'email']) {
      await repo.insert({ ...base, channel, dedupeKey: 'window:recent', createdAt: Date.now() - 23 * hour });
      await repo.insert({ ...base, channel, dedupeKey: 'window:old', createdAt: Date.now() - 25 * hour });
    }
    const service = t.app.get(AlertsService);
    const event = { event: 'cert.expiring', severity: 'warning' as const, subject: 's', detail: 'd' };
    expect((await service.raise({ ...event, dedupeKey: 'window:recent' })).map((x) => x.outcome)).toEqual([
      'suppressed',
      'suppressed',
    ]);
    expect((await service.raise({ ...event, dedupeKey: 'window:old' })).map((x) => x.outcome)).toEqual([
      'sent',
      'sent',
    ]);
    expect(r.webhooks).toHaveLength(1);
  });

  it('a failed delivery does not count for the dedupe: the next occurrence is retried', async () => {
    const service = t.app.get(AlertsService);
    const event = {
      event: 'vpn.crl_expiring',
      severity: 'warning' as const,
      subject: 'CRL expires in 3 days',
      detail: 'nextUpdate 2026-11-28',
      dedupeKey: 'vpn.crl_expiring',
    };
    r.replies = [500, 500, 500];
    const first = await service.raise(event);
    expect(first).toContainEqual(expect.objectContaining({ channel: 'webhook', outcome: 'failed' }));
    const second = await service.raise(event);
    expect(second).toEqual([
      expect.objectContaining({ channel: 'webhook', outcome: 'sent' }),
      expect.objectContaining({ channel: 'email', outcome: 'suppressed' }),
    ]);
  });

  it('GET /admin/alerts lists newest first, honours limit and rejects a bad one', async () => {
    const rows = await listAlerts(3);
    expect(rows).toHaveLength(3);
    expect(rows[0].id).toBeGreaterThan(rows[1].id);
    expect(rows[1].id).toBeGreaterThan(rows[2].id);
    const all = await listAlerts(500);
    const times = all.map((a) => Date.parse(a.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(Object.keys(rows[0]).sort()).toEqual(
      [
        'attempts',
        'channel',
        'createdAt',
        'dedupeKey',
        'detail',
        'error',
        'event',
        'id',
        'outcome',
        'severity',
        'subject',
      ].sort(),
    );
    const bad = await request(t.baseUrl).get('/admin/alerts?limit=0').set('Cookie', staff.cookie).expect(400);
    expect(bad.body).toMatchObject({ statusCode: 400, message: ['limit must be an integer 1..500'] });
    await request(t.baseUrl).get('/admin/alerts?limit=abc').set('Cookie', staff.cookie).expect(400);
  });
});

describe('alerts with no channel configured', () => {
  let t: TestApp;
  let staff: LoginSession;

  beforeAll(async () => {
    t = await startApp({
      // startApp leaves earlier suites' variables in process.env: back to SQLite, no channels.
      DATABASE_URL: '',
      ALERT_WEBHOOK_URL: '',
      ALERT_SMTP_URL: '',
      ALERT_EMAIL_FROM: '',
      ALERT_EMAIL_TO: '',
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    staff = await login(t, 'boss', 'boss-pass');
  });

  afterAll(async () => {
    await t?.close();
  });

  it('POST /admin/alerts/test is a 409 saying what to set', async () => {
    const res = await request(t.baseUrl)
      .post('/admin/alerts/test')
      .set('Cookie', staff.cookie)
      .set('X-CSRFToken', staff.csrf)
      .expect(409);
    expect(res.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: expect.stringContaining('No alert channel is configured: set ALERT_WEBHOOK_URL'),
    });
  });

  it('an OpsEvent is only logged: no row, no throw', async () => {
    expect(
      await t.app.get(AlertsService).raise({ event: 'x', severity: 'info', subject: 's', detail: 'd' }),
    ).toEqual([]);
    const res = await request(t.baseUrl).get('/admin/alerts').set('Cookie', staff.cookie).expect(200);
    expect(res.body).toEqual({ alerts: [] });
  });
});
