import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { OpsEvent, OpsEvents } from '../src/common/ops-events';
import { AlertReceivers, startAlertReceivers } from './support/alert-receivers';
import { startApp, TestApp } from './support/app';
import { freePort } from './support/instances';
import { manage } from './support/manage';
import { acmeToolsAvailable, Pebble, startPebble } from './support/pebble';
import { createUser, login, LoginSession } from './support/users';

const describeAcme = acmeToolsAvailable() ? describe : describe.skip;

interface Run {
  id: number;
  outcome: string;
  trigger: string;
  requestedBy: string | null;
  renewed: string[];
  failed: { name: string; reason: string }[];
  reason: string | null;
  exitCode: number | null;
  outputTail: string;
}

describeAcme('certificates with real certbot against Pebble', () => {
  let t: TestApp;
  let pebble: Pebble;
  let staff: LoginSession;
  let hookMarker: string;
  let dataDir: string;
  let receivers: AlertReceivers;
  const events: OpsEvent[] = [];
  const domains = ['www.live-test.example', 'live-test.example'];
  const lineage = domains[0];

  beforeAll(async () => {
    const port = await freePort();
    pebble = await startPebble(port);
    const env = {
      PORT: String(port),
      CERTBOT_SERVER: pebble.directoryUrl,
    };
    dataDir = mkdtempSync(join(tmpdir(), 'live-certs-'));
    hookMarker = join(dataDir, 'deploy-hook.marker');
    const hook = join(dataDir, 'deploy-hook.sh');
    writeFileSync(hook, `#!/bin/sh\necho "$RENEWED_LINEAGE" >> '${hookMarker}'\n`);
    chmodSync(hook, 0o755);
    receivers = await startAlertReceivers();
    t = await startApp(
      {
        ...env,
        CERT_RENEW_CRON: 'off',
        DATA_DIR: dataDir,
        CERTBOT_DEPLOY_HOOK: hook,
        ALERT_WEBHOOK_URL: receivers.webhookUrl,
        ALERT_SMTP_URL: receivers.smtpUrl,
        ALERT_EMAIL_FROM: 'live@example.org',
        ALERT_EMAIL_TO: 'ops@example.org',
      },
      // certbot (a child process) reads it, not live.
      { childEnv: { REQUESTS_CA_BUNDLE: pebble.caBundle } },
    );
    t.app.get(OpsEvents).subscribe((e) => void events.push(e));
    await createUser(t, { username: 'ops', password: 'ops-password', isStaff: true });
    await createUser(t, { username: 'pleb', password: 'pleb-password' });
    staff = await login(t, 'ops', 'ops-password');
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await pebble?.dispose();
    await receivers?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (path: string, body: object, session = staff) =>
    request(t.baseUrl).post(path).set('Cookie', session.cookie).set('X-CSRFToken', session.csrf).send(body);
  const get = (path: string, session = staff) => request(t.baseUrl).get(path).set('Cookie', session.cookie);

  async function finished(id: number, timeoutMs = 90_000): Promise<Run> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const run = (await get(`/admin/certs/runs/${id}`).expect(200)).body as Run;
      if (run.outcome !== 'running') return run;
      if (Date.now() > end) throw new Error(`run ${id} still running`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('is staff only: anonymous 401, non-staff 403', async () => {
    await request(t.baseUrl).get('/admin/certs').expect(401);
    const pleb = await login(t, 'pleb', 'pleb-password');
    await get('/admin/certs', pleb).expect(403);
    await post('/admin/certs/renew', {}, pleb).expect(403);
  });

  it.each([
    ['a wildcard', { domains: ['*.example.org'] }, 'no wildcard'],
    ['a path', { domains: ['../x'] }, 'host name'],
    ['a port', { domains: ['example.org:8080'] }, 'host name'],
    ['an IP address', { domains: ['1.2.3.4'] }, 'host name'],
    ['no names', { domains: [] }, 'at least one'],
    ['101 names', { domains: Array.from({ length: 101 }, (_, i) => `n${i}.example.org`) }, 'at most 100'],
    ['a string', { domains: 'example.org' }, 'array'],
    ['an unknown field', { domains: ['example.org'], extra: 1 }, 'should not exist'],
  ])('refuses %s with a 400 saying why', async (_label, body, why) => {
    const res = await post('/admin/certs', body).expect(400);
    expect(JSON.stringify(res.body.message)).toContain(why);
  });

  it('obtains a certificate through live’s own webroot (real http-01) and lists it', async () => {
    const res = await post('/admin/certs', { domains }).expect(202);
    const run = await finished(res.body.runId);
    expect(run).toMatchObject({ outcome: 'obtained', exitCode: 0, trigger: 'manual', requestedBy: 'ops' });
    const inventory = (await get('/admin/certs').expect(200)).body;
    expect(inventory.certificates).toHaveLength(1);
    const cert = inventory.certificates[0];
    expect(cert.name).toBe(lineage);
    expect([...cert.domains].sort()).toEqual([...domains].sort());
    expect(cert.status).toBe('valid');
    expect(cert.daysLeft).toBeGreaterThan(1000); // Pebble issues 5-year certificates
    expect(new Date(cert.notBefore).getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(cert.issuer).toMatch(/Pebble/i);
  }, 120_000);

  it('a forced renewal is recorded as renewed and fires the deploy hook; two triggers give one run and one 409', async () => {
    const before = existsSync(hookMarker) ? readFileSync(hookMarker, 'utf8') : '';
    const [a, b] = await Promise.all([
      post('/admin/certs/renew', { force: true }),
      post('/admin/certs/renew', { force: true }),
    ]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const conflict = a.status === 409 ? a : b;
    expect(conflict.body.message).toMatch(/already in progress/);
    const run = await finished((a.status === 202 ? a : b).body.runId);
    expect(run).toMatchObject({ outcome: 'renewed', renewed: [lineage], failed: [] });
    const after = readFileSync(hookMarker, 'utf8');
    expect(after.length).toBeGreaterThan(before.length);
    expect(after).toContain(`/live/${lineage}`);
  }, 120_000);

  it('a normal renewal is not due', async () => {
    const res = await post('/admin/certs/renew', {}).expect(202);
    expect(await finished(res.body.runId)).toMatchObject({ outcome: 'not-due', renewed: [], exitCode: 0 });
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.components.certs.status).toBe('up');
  }, 60_000);

  it('with the ACME server down, a renewal fails with certbot’s reason, /health is degraded and an event is raised', async () => {
    await pebble.stop();
    const res = await post('/admin/certs/renew', { force: true }).expect(202);
    const run = await finished(res.body.runId);
    expect(run.outcome).toBe('failed');
    expect(run.exitCode).toBe(1);
    expect(run.failed.map((f) => f.name)).toEqual([lineage]);
    expect(run.failed[0].reason).toMatch(/refused|connect/i);
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.components.certs).toMatchObject({ status: 'degraded' });
    expect(health.body.components.certs.detail).toContain('failed');
    const failures = events.filter((e) => e.event === 'cert.renewal_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0].subject).toContain(lineage);
    // The failure reaches a person: exactly one alert on each configured channel.
    await receivers.waitFor(() => receivers.webhooks.length >= 1 && receivers.mails.length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(receivers.webhooks).toHaveLength(1);
    expect(receivers.mails).toHaveLength(1);
    expect(JSON.stringify(receivers.webhooks[0])).toContain('cert.renewal_failed');
    expect(JSON.stringify(receivers.mails[0])).toContain(lineage);

    const runs = (await get('/admin/certs/runs?limit=10').expect(200)).body as Run[];
    expect(runs.map((r) => r.outcome).slice(0, 4)).toEqual(['failed', 'not-due', 'renewed', 'obtained']);
    await get('/admin/certs/runs?limit=0').expect(400);
    await get('/admin/certs/runs/999999').expect(404);
  }, 120_000);

  it('manage renew-certs shares the code and the history (and exits 1 on failure)', async () => {
    const res = await manage(['renew-certs', '--force'], {
      DATA_DIR: t.dataDir,
      CERTBOT_SERVER: pebble.directoryUrl,
      REQUESTS_CA_BUNDLE: pebble.caBundle,
      CERT_RENEW_CRON: 'off',
    });
    expect({ code: res.code, stdout: res.stdout, stderr: res.stderr.slice(-500) }).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^Run \d+: failed/),
    });
    const [latest] = (await get('/admin/certs/runs?limit=1').expect(200)).body as Run[];
    expect(latest).toMatchObject({ trigger: 'manage', outcome: 'failed' });
  }, 120_000);
});
