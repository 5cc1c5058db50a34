import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { VpnCrlJob } from '../src/ops/vpn/vpn-crl.job';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { AlertReceivers, startAlertReceivers } from './support/alert-receivers';
import { startApp, TestApp } from './support/app';
import { createUser, login, LoginSession } from './support/users';
import { block, EASYRSA, openssl, vpnToolsAvailable } from './support/vpn';

const describeVpn = vpnToolsAvailable() ? describe : describe.skip;
const DAY = 86_400_000;

/** easy-rsa's own lifetime variables, set in the process environment the local runner passes on. */
async function withLifetimes<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

type Cert = { kind: string; name: string; notAfter: string; state: string };
type Hook = { event: string; severity: string; subject: string; detail: string };

describeVpn('VPN certificates: expiry watched (short lifetimes from EASYRSA_*_EXPIRE) and renew', () => {
  let t: TestApp;
  let r: AlertReceivers;
  let staff: LoginSession;
  let plain: LoginSession;
  let oldProfile: string;

  beforeAll(async () => {
    r = await startAlertReceivers();
    t = await startApp({
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
      VPN_CERT_WARN_DAYS: '30',
      ALERT_WEBHOOK_URL: r.webhookUrl,
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
    staff = await login(t, 'boss', 'boss-pass');
    plain = await login(t, 'joe', 'joe-pass');
    // A CA of 20 days and a server certificate of 10: both inside the 30-day warning.
    await withLifetimes({ EASYRSA_CA_EXPIRE: '20', EASYRSA_CERT_EXPIRE: '10' }, () =>
      t.app.get(VpnService).init('udp://127.0.0.1:1194', 'test'),
    );
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'long' }).expect(201);
    await withLifetimes({ EASYRSA_CERT_EXPIRE: '5' }, () =>
      as(staff, http().post('/admin/vpn/clients')).send({ name: 'short' }).expect(201),
    );
    oldProfile = (await as(staff, http().get('/admin/vpn/clients/short/profile')).expect(200)).text;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await r?.close();
  });

  const http = () => request(t.baseUrl);
  const as = (s: LoginSession, req: request.Test) => req.set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
  const certs = async () =>
    (await as(staff, http().get('/admin/vpn/certificates')).expect(200)).body as Cert[];

  it('lists the CA, the server and each client with notAfter and its state', async () => {
    const list = await certs();
    const byName = Object.fromEntries(list.map((c) => [`${c.kind}:${c.name}`, c]));
    expect(Object.keys(byName).sort()).toEqual(['ca:CA', 'client:long', 'client:short', 'server:127.0.0.1']);
    const days = (c: Cert) => (Date.parse(c.notAfter) - Date.now()) / DAY;
    expect(days(byName['ca:CA'])).toBeGreaterThan(19);
    expect(days(byName['ca:CA'])).toBeLessThan(21);
    expect(days(byName['server:127.0.0.1'])).toBeLessThan(11);
    expect(days(byName['client:short'])).toBeLessThan(6);
    expect(days(byName['client:long'])).toBeGreaterThan(800);
    expect(Object.fromEntries(list.map((c) => [c.name, c.state]))).toEqual({
      CA: 'expiring',
      '127.0.0.1': 'expiring',
      long: 'ok',
      short: 'expiring',
    });
    await as(plain, http().get('/admin/vpn/certificates')).expect(403);
  });

  it('/health is degraded for the CA and the server certificate', async () => {
    const health = await http().get('/health');
    expect(health.body.components.vpn.status).toBe('degraded');
    expect(health.body.components.vpn.detail).toMatch(
      /^CA expiring \(notAfter .*\); server certificate 127\.0\.0\.1 expiring/,
    );
  });

  it('the job sends vpn.cert_expiring once per certificate (deduped on the next run)', async () => {
    r.reset();
    await t.app.get(VpnCrlJob).work();
    await r.waitFor(() => r.webhooks.length >= 3);
    const hooks = r.webhooks.map((w) => w.body as Hook).filter((b) => b.event === 'vpn.cert_expiring');
    expect(hooks.map((h) => [h.severity, h.subject]).sort()).toEqual([
      ['critical', 'the VPN CA expires soon'],
      ['critical', 'the VPN server certificate 127.0.0.1 expires soon'],
      ['warning', 'VPN client short expires soon'],
    ]);
    expect(hooks.find((h) => h.subject.includes('short'))?.detail).toMatch(
      /renew: POST \/admin\/vpn\/clients\/short\/renew/,
    );
    await t.app.get(VpnCrlJob).work();
    await new Promise((res) => setTimeout(res, 300));
    expect(r.webhooks.filter((w) => (w.body as Hook).event === 'vpn.cert_expiring')).toHaveLength(3);
    const alerts = (await as(staff, http().get('/admin/alerts?limit=50')).expect(200)).body.alerts as Array<{
      event: string;
      outcome: string;
    }>;
    const expiring = alerts.filter((a) => a.event === 'vpn.cert_expiring');
    expect(expiring.filter((a) => a.outcome === 'sent')).toHaveLength(3);
    expect(expiring.filter((a) => a.outcome === 'suppressed')).toHaveLength(3);
  });

  it('renew re-issues the client under the same name: a new profile verifies, the old certificate is revoked', async () => {
    const res = await as(staff, http().post('/admin/vpn/clients/short/renew')).expect(201);
    expect(res.body).toMatchObject({ name: 'short', status: 'VALID', createdBy: 'boss' });
    expect(Date.parse(res.body.notAfter) - Date.now()).toBeGreaterThan(800 * DAY);
    const fresh = (await as(staff, http().get('/admin/vpn/clients/short/profile')).expect(200)).text;
    expect(block(fresh, 'cert')).not.toBe(block(oldProfile, 'cert'));
    expect(block(fresh, 'key')).not.toBe(block(oldProfile, 'key'));
    const dir = t.dataDir;
    const cacrl = join(dir, 'cacrl.pem');
    writeFileSync(cacrl, block(fresh, 'ca') + readFileSync(join(dir, 'openvpn', 'crl.pem'), 'utf8'));
    writeFileSync(join(dir, 'new.crt'), block(fresh, 'cert'));
    writeFileSync(join(dir, 'old.crt'), block(oldProfile, 'cert'));
    const good = openssl(['verify', '-crl_check', '-CAfile', cacrl, join(dir, 'new.crt')]);
    expect(good.out).toMatch(/new\.crt: OK/);
    const bad = openssl(['verify', '-crl_check', '-CAfile', cacrl, join(dir, 'old.crt')]);
    expect(bad.status).not.toBe(0);
    expect(bad.out).toMatch(/certificate revoked/);
    // one client in the list, the new one; its expiry is fine now
    const list = (await as(staff, http().get('/admin/vpn/clients')).expect(200)).body as Array<{
      name: string;
      status: string;
    }>;
    expect(list.filter((c) => c.name === 'short')).toEqual([expect.objectContaining({ status: 'VALID' })]);
    expect((await certs()).find((c) => c.name === 'short')?.state).toBe('ok');
    const audit = (await as(staff, http().get('/admin/vpn/audit')).expect(200)).body;
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'boss', action: 'renew', clientName: 'short', outcome: 'ok' }),
      ]),
    );
  });

  it('renew refuses unknown (404), revoked (410) and bad names (400), and non-staff', async () => {
    await as(staff, http().post('/admin/vpn/clients/nobody/renew')).expect(404);
    await as(staff, http().delete('/admin/vpn/clients/long')).expect(204);
    const gone = await as(staff, http().post('/admin/vpn/clients/long/renew')).expect(410);
    expect(gone.body.message).toMatch(/revoked/);
    const bad = await as(staff, http().post('/admin/vpn/clients/a%3Bb/renew')).expect(400);
    expect(bad.body.message).toMatch(/name must be/);
    await as(plain, http().post('/admin/vpn/clients/short/renew')).expect(403);
    await http().post('/admin/vpn/clients/short/renew').expect(401);
    // a renewed client is revoked by its latest certificate (its earlier one is already revoked)
    await as(staff, http().delete('/admin/vpn/clients/short')).expect(204);
    const list = (await as(staff, http().get('/admin/vpn/clients')).expect(200)).body as Array<{
      name: string;
      status: string;
    }>;
    expect(list.filter((c) => c.name === 'short')).toEqual([expect.objectContaining({ status: 'REVOKED' })]);
  });
});
