import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, Server } from 'node:tls';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { OpsEvent, OpsEvents } from '../src/common/ops-events';
import { CertDeployChecker } from '../src/ops/certs/cert-deploy-check.service';
import { AlertReceivers, startAlertReceivers } from './support/alert-receivers';
import { startApp, TestApp } from './support/app';
import { entryPoint } from './support/entry-point';
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
  let checkPort: number;
  let webServer: Server | null = null;
  /** The certificate a "web server" loaded: the lineage's files as they are now. */
  const loadedCert = () => ({
    cert: readFileSync(join(dataDir, 'certbot', 'config', 'live', lineage, 'fullchain.pem')),
    key: readFileSync(join(dataDir, 'certbot', 'config', 'live', lineage, 'privkey.pem')),
  });

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
    checkPort = await freePort();
    t = await startApp(
      {
        ...env,
        // certbot's hooks run the compiled hook entry (as installed live does) rather than ts-node.
        ACME_HOOK_COMMAND: [process.execPath, ...entryPoint('ops/certs/acme-hook.main')].join(' '),
        // The served-certificate check asks a local TLS server (SNI: each domain), as it would nginx.
        CERT_CHECK_ADDRESS: `127.0.0.1:${checkPort}`,
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
    // The check gives a reloading web server a moment after a renewal; here nothing reloads.
    t.app.get(CertDeployChecker).retryDelaysMs = [300];
    await createUser(t, { username: 'ops', password: 'ops-password', isStaff: true });
    await createUser(t, { username: 'pleb', password: 'pleb-password' });
    staff = await login(t, 'ops', 'ops-password');
  }, 60_000);

  afterAll(async () => {
    await new Promise((r) => (webServer ? webServer.close(r) : r(null)));
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

  it('with no certificate at all, a renewal ends `none` and says how to obtain the first one', async () => {
    const res = await post('/admin/certs/renew', {}).expect(202);
    const run = await finished(res.body.runId);
    expect(run).toMatchObject({ outcome: 'none', renewed: [], failed: [], exitCode: null });
    expect(run.reason).toMatch(/No certificates yet: obtain the first one/);
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.components.certs.status).toBe('up');
  });

  it('refuses a staging flag that is not a boolean', async () => {
    const res = await post('/admin/certs', { domains, staging: 'yes' }).expect(400);
    expect(JSON.stringify(res.body.message)).toContain('staging must be true or false');
  });

  it('obtains a certificate through the challenge hooks and the database (real http-01) and lists it', async () => {
    const db = t.app.get(DataSource);
    const res = await post('/admin/certs', { domains }).expect(202);
    const run = await finished(res.body.runId);
    // The reason and output are in the comparison, so a failure shows what certbot said.
    expect({ outcome: run.outcome, reason: run.reason }).toEqual({ outcome: 'obtained', reason: null });
    expect(run).toMatchObject({ exitCode: 0, trigger: 'manual', requestedBy: 'ops' });
    // The auth hook stored each challenge and the cleanup hook removed it.
    expect(run.outputTail).not.toMatch(/reported error code/);
    expect(await db.query('SELECT count(*) AS n FROM live_acme_challenge')).toEqual([{ n: 0 }]);
    // No webroot file was written: the challenges went through the database alone.
    expect(existsSync(join(dataDir, 'acme-webroot', '.well-known', 'acme-challenge'))).toBe(true);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dataDir, 'acme-webroot', '.well-known', 'acme-challenge'))).toEqual([]);
    const inventory = (await get('/admin/certs').expect(200)).body;
    expect(inventory.certificates).toHaveLength(1);
    const cert = inventory.certificates[0];
    expect(cert.name).toBe(lineage);
    expect([...cert.domains].sort()).toEqual([...domains].sort());
    expect(cert.status).toBe('valid');
    expect(cert.daysLeft).toBeGreaterThan(1000); // Pebble issues 5-year certificates
    expect(new Date(cert.notBefore).getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(cert.issuer).toMatch(/Pebble/i);
    expect(cert.staging).toBe(false);
    expect(cert.lifetimeDays).toBeGreaterThan(1800);
    expect(cert.renewal).toMatchObject({ authenticator: 'manual', byLive: true });
    // No web server yet: the check after issuance could not connect, which is not a mismatch.
    expect(cert.deployment.status).toBe('unreachable');
    expect(events.filter((e) => e.event === 'cert.not_deployed')).toHaveLength(0);
  }, 120_000);

  it('the served-certificate check: the certificate on disk served → deployed', async () => {
    webServer = createServer(loadedCert());
    await new Promise<void>((r) => webServer!.listen(checkPort, '127.0.0.1', r));
    const res = await post('/admin/certs/check', {}).expect(200);
    const cert = res.body.certificates[0];
    expect(cert.deployment.status).toBe('deployed');
    expect(cert.deployment.detail.map((d: { domain: string }) => d.domain).sort()).toEqual(
      [...domains].sort(),
    );
    expect(cert.deployment.detail.every((d: { served: string }) => d.served === cert.serial)).toBe(true);
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.components.certs.status).toBe('up');
  }, 30_000);

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

    // The web server still serves the old certificate (nothing reloaded it): not-deployed, an
    // alert, /health degraded.
    const inventory = (await get('/admin/certs').expect(200)).body;
    const cert = inventory.certificates[0];
    expect(cert.deployment.status).toBe('not-deployed');
    expect(cert.deployment.detail[0].served).not.toBe(cert.serial);
    const alerts = events.filter((e) => e.event === 'cert.not_deployed');
    expect(alerts).toHaveLength(1);
    expect(alerts[0].detail).toContain(cert.serial);
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.status).toBe('degraded');
    expect(health.body.components.certs.detail).toContain(`${lineage} not deployed`);
    await receivers.waitFor(() => receivers.webhooks.length >= 1);
    expect(JSON.stringify(receivers.webhooks[0])).toContain('cert.not_deployed');

    // Reloaded with the new files: the next check is clean.
    webServer!.setSecureContext(loadedCert());
    const checked = (await post('/admin/certs/check', {}).expect(200)).body.certificates[0];
    expect(checked.deployment.status).toBe('deployed');
    const healed = await request(t.baseUrl).get('/health').expect(200);
    expect(healed.body.components.certs.status).toBe('up');
    await new Promise((r) => setTimeout(r, 300));
    receivers.reset();
  }, 120_000);

  it('a normal renewal is not due: live’s window (a third of 5 years) is far off, certbot is not even run', async () => {
    const res = await post('/admin/certs/renew', {}).expect(202);
    expect(await finished(res.body.runId)).toMatchObject({ outcome: 'not-due', renewed: [], exitCode: null });
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.components.certs.status).toBe('up');
  }, 60_000);

  it('a lineage whose own renew_before_expiry is reached is renewed by name (certbot renew --cert-name N --force-renewal)', async () => {
    const conf = join(dataDir, 'certbot', 'config', 'renewal', `${lineage}.conf`);
    writeFileSync(
      conf,
      readFileSync(conf, 'utf8').replace(/^# renew_before_expiry = .*$/m, 'renew_before_expiry = 3650 days'),
    );
    const before = (await get('/admin/certs').expect(200)).body.certificates[0];
    expect(new Date(before.renewFrom).getTime()).toBeLessThan(Date.now());
    const res = await post('/admin/certs/renew', {}).expect(202);
    const run = await finished(res.body.runId);
    expect(run).toMatchObject({ outcome: 'renewed', renewed: [lineage], failed: [], exitCode: 0 });
    expect(run.outputTail).toContain('Congratulations');
    const after = (await get('/admin/certs').expect(200)).body.certificates[0];
    expect(after.serial).not.toBe(before.serial);
    // Served again by the "web server", so what follows starts clean.
    writeFileSync(
      conf,
      readFileSync(conf, 'utf8').replace(/^renew_before_expiry = .*$/m, '# renew_before_expiry = 30 days'),
    );
    webServer!.setSecureContext(loadedCert());
    expect((await post('/admin/certs/check', {}).expect(200)).body.certificates[0].deployment.status).toBe(
      'deployed',
    );
    await new Promise((r) => setTimeout(r, 300));
    receivers.reset();
  }, 120_000);

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
    expect(runs.map((r) => r.outcome).slice(0, 6)).toEqual([
      'failed',
      'renewed',
      'not-due',
      'renewed',
      'obtained',
      'none',
    ]);
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

  it('an obtain against the unreachable ACME server records certbot’s real cause, not its heading', async () => {
    receivers.reset();
    const res = await post('/admin/certs', { domains: ['new.live-test.example'] }).expect(202);
    const run = await finished(res.body.runId);
    expect(run.outcome).toBe('failed');
    expect(run.reason).not.toMatch(/^An unexpected error occurred/);
    expect(run.reason).toMatch(/Connection refused/);
    expect(run.failed).toEqual([{ name: 'new.live-test.example', reason: run.reason }]);
    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(health.body.components.certs.detail).toContain(run.reason);
    const issue = events.filter((e) => e.event === 'cert.issue_failed');
    expect(issue).toHaveLength(1);
    expect(issue[0].detail).toContain(run.reason!);
    await receivers.waitFor(() => receivers.webhooks.length >= 1);
    expect(JSON.stringify(receivers.webhooks[0])).toContain('Connection refused');
  }, 120_000);
});
