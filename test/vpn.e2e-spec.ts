import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { manage } from './support/manage';
import { createUser, login, LoginSession } from './support/users';
import { block, certSerial, EASYRSA, openssl, vpnToolsAvailable } from './support/vpn';

const describeVpn = vpnToolsAvailable() ? describe : describe.skip;

describeVpn('VPN client profiles with the local runner (real easy-rsa/openssl)', () => {
  let t: TestApp;
  let staff: LoginSession;
  let plain: LoginSession;
  let pki: string;
  let aliceCert: string;

  beforeAll(async () => {
    t = await startApp({ VPN_RUNNER: 'local', EASYRSA_BIN: EASYRSA, VPN_CRL_CRON: 'off' });
    pki = join(t.dataDir, 'openvpn', 'pki');
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
    staff = await login(t, 'boss', 'boss-pass');
    plain = await login(t, 'joe', 'joe-pass');
    // A VPN never set up does not degrade the site: up, with a detail saying how to set it up.
    const before = await request(t.baseUrl).get('/health').expect(200);
    expect(before.body.components.vpn).toMatchObject({
      status: 'up',
      detail: expect.stringMatching(/^not set up/),
    });
    expect(before.body.status).toBe('ok'); // overall: not degraded
    // The first set-up, as an operator does it: the manage command on the app's data folder.
    const init = await manage(['vpn-init', '--url', 'udp://vpn.example.org:1194'], {
      DATA_DIR: t.dataDir,
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
    });
    expect(init).toMatchObject({ code: 0, stdout: 'VPN PKI initialised for udp://vpn.example.org:1194.\n' });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  const http = () => request(t.baseUrl);
  const as = (s: LoginSession, r: request.Test) => r.set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
  const index = () => readFileSync(join(pki, 'index.txt'), 'utf8');

  it('init refuses to overwrite the existing PKI', async () => {
    const before = readFileSync(join(pki, 'ca.crt'), 'utf8');
    const again = await manage(['vpn-init', '--url', 'udp://other.example.org:1194'], {
      DATA_DIR: t.dataDir,
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
    });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already/i);
    await expect(t.app.get(VpnService).init('udp://other.example.org:1194', 'test')).rejects.toMatchObject({
      status: 409,
    });
    expect(readFileSync(join(pki, 'ca.crt'), 'utf8')).toBe(before);
  });

  it('anonymous is 401, non-staff 403', async () => {
    await http().get('/admin/vpn/clients').expect(401);
    await as(plain, http().get('/admin/vpn/clients')).expect(403);
    await as(plain, http().post('/admin/vpn/clients')).send({ name: 'mallory' }).expect(403);
    await as(plain, http().get('/admin/vpn/status')).expect(403);
  });

  it('creates alice: 201 with status and notAfter; a second create is 409', async () => {
    const res = await as(staff, http().post('/admin/vpn/clients')).send({ name: 'alice' }).expect(201);
    expect(res.body).toMatchObject({ name: 'alice', status: 'VALID', createdBy: 'boss' });
    expect(new Date(res.body.notAfter).getTime()).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    const dup = await as(staff, http().post('/admin/vpn/clients')).send({ name: 'alice' }).expect(409);
    expect(dup.body.message).toMatch(/already exists/);
  });

  it('the profile has every inline block and its certificate verifies against the CA', async () => {
    const res = await as(staff, http().get('/admin/vpn/clients/alice/profile')).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-openvpn-profile/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="alice.ovpn"');
    const profile = res.text;
    expect(profile).toMatch(/^client$/m);
    expect(profile).toMatch(/^remote vpn\.example\.org 1194 udp$/m);
    expect(profile).toMatch(/^key-direction 1$/m);
    expect(block(profile, 'key')).toMatch(/-----BEGIN PRIVATE KEY-----/);
    expect(block(profile, 'tls-auth')).toMatch(/BEGIN OpenVPN Static key V1/);
    aliceCert = block(profile, 'cert');
    const ca = block(profile, 'ca');
    expect(ca).toBe(
      readFileSync(join(pki, 'ca.crt'), 'utf8').match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/,
      )![0],
    );
    writeFileSync(join(t.dataDir, 'alice.crt'), aliceCert);
    writeFileSync(join(t.dataDir, 'ca.crt'), ca);
    const v = openssl(['verify', '-CAfile', join(t.dataDir, 'ca.crt'), join(t.dataDir, 'alice.crt')]);
    expect(v.out).toMatch(/alice\.crt: OK/);
    expect(v.status).toBe(0);
  });

  it('lists alice as VALID with her metadata, and not the server certificate', async () => {
    const res = await as(staff, http().get('/admin/vpn/clients')).expect(200);
    const alice = res.body.find((c: { name: string }) => c.name === 'alice');
    expect(alice).toMatchObject({ status: 'VALID', createdBy: 'boss', revokedBy: null });
    expect(Date.parse(alice.notBefore)).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(res.body.map((c: { name: string }) => c.name)).not.toContain('vpn.example.org');
  });

  it.each([
    ['../x', '../x'],
    ['a;rm -rf /', 'a;rm -rf /'],
    ['65 characters', 'a'.repeat(65)],
    ['empty', ''],
  ])('bad name %s is 400 and leaves the PKI untouched', async (_label, name) => {
    const before = index();
    const res = await as(staff, http().post('/admin/vpn/clients')).send({ name }).expect(400);
    expect(JSON.stringify(res.body.message)).toMatch(/name must be/);
    const enc = encodeURIComponent(name) || '%20';
    for (const r of [
      as(staff, http().get(`/admin/vpn/clients/${enc}/profile`)),
      as(staff, http().delete(`/admin/vpn/clients/${enc}`)),
    ]) {
      const resp = await r;
      expect([400, 404]).toContain(resp.status);
      expect(resp.body.statusCode).toBe(resp.status);
    }
    expect(index()).toBe(before);
  });

  it('a missing name or extra fields are 400', async () => {
    await as(staff, http().post('/admin/vpn/clients')).send({}).expect(400);
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'ok', x: 1 }).expect(400);
  });

  it('two concurrent creates both succeed and the index stays consistent', async () => {
    const [a, b] = await Promise.all([
      as(staff, http().post('/admin/vpn/clients')).send({ name: 'carol' }),
      as(staff, http().post('/admin/vpn/clients')).send({ name: 'dave' }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    const lines = index().trim().split('\n');
    const cns = lines.map((l) => /\/CN=(.+)$/.exec(l)?.[1]);
    expect(cns.filter((n) => n === 'carol')).toHaveLength(1);
    expect(cns.filter((n) => n === 'dave')).toHaveLength(1);
    const serials = lines.map((l) => l.split('\t')[3]);
    expect(new Set(serials).size).toBe(serials.length);
    for (const name of ['carol', 'dave']) {
      const v = openssl(['verify', '-CAfile', join(pki, 'ca.crt'), join(pki, 'issued', `${name}.crt`)]);
      expect(v.status).toBe(0);
    }
  });

  it('revoking alice: 204, REVOKED, her serial in the CRL, openssl -crl_check refuses, profile 410', async () => {
    await as(staff, http().delete('/admin/vpn/clients/alice')).expect(204);
    const list = await as(staff, http().get('/admin/vpn/clients')).expect(200);
    expect(list.body.find((c: { name: string }) => c.name === 'alice')).toMatchObject({
      status: 'REVOKED',
      revokedBy: 'boss',
    });
    const serial = certSerial(aliceCert);
    const crlPath = join(t.dataDir, 'openvpn', 'crl.pem');
    const crl = openssl(['crl', '-in', crlPath, '-noout', '-text']);
    expect(crl.out.toUpperCase()).toContain(`SERIAL NUMBER: ${serial}`);
    writeFileSync(
      join(t.dataDir, 'cacrl.pem'),
      readFileSync(join(t.dataDir, 'ca.crt'), 'utf8') + readFileSync(crlPath, 'utf8'),
    );
    const v = openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      join(t.dataDir, 'cacrl.pem'),
      join(t.dataDir, 'alice.crt'),
    ]);
    expect(v.status).not.toBe(0);
    expect(v.out).toMatch(/certificate revoked/);
    const gone = await as(staff, http().get('/admin/vpn/clients/alice/profile')).expect(410);
    expect(gone.body).toMatchObject({ statusCode: 410, message: expect.stringMatching(/revoked/) });
    await as(staff, http().delete('/admin/vpn/clients/nobody')).expect(404);
    await as(staff, http().get('/admin/vpn/clients/nobody/profile')).expect(404);
    // a revoked name cannot be reissued
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'alice' }).expect(409);
  });

  it('status shows the CRL next update and the counts', async () => {
    const res = await as(staff, http().get('/admin/vpn/status')).expect(200);
    expect(res.body).toMatchObject({ runner: 'local', valid: 2, revoked: 1, expired: 0 });
    expect(Date.parse(res.body.crlNextUpdate)).toBeGreaterThan(Date.now() + 1000 * 86_400_000);
    const health = await http().get('/health').expect(200);
    expect(JSON.stringify(health.body)).toMatch(/"vpn"/);
  });

  it('the audit lists who did what, including failures', async () => {
    const res = await as(staff, http().get('/admin/vpn/audit')).expect(200);
    const rows = res.body as Array<{ actor: string; action: string; clientName: string; outcome: string }>;
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'manage', action: 'init', outcome: 'ok' }),
        expect.objectContaining({ actor: 'manage', action: 'init', outcome: 'failed' }),
        expect.objectContaining({ actor: 'boss', action: 'create', clientName: 'alice', outcome: 'ok' }),
        expect.objectContaining({ actor: 'boss', action: 'create', clientName: 'alice', outcome: 'failed' }),
        expect.objectContaining({ actor: 'boss', action: 'revoke', clientName: 'alice', outcome: 'ok' }),
        expect.objectContaining({ actor: 'boss', action: 'profile', clientName: 'alice', outcome: 'failed' }),
      ]),
    );
    await as(plain, http().get('/admin/vpn/audit')).expect(403);
  });

  it('reports clients by status and the CRL date in /metrics', async () => {
    const status = (await as(staff, http().get('/admin/vpn/status')).expect(200)).body;
    const metrics = (await http().get('/metrics').expect(200)).text;
    expect(metrics).toContain(`live_vpn_clients{status="VALID"} ${status.valid}`);
    expect(metrics).toContain(`live_vpn_clients{status="REVOKED"} ${status.revoked}`);
    expect(status.revoked).toBeGreaterThan(0);
    expect(metrics).toMatch(/live_vpn_crl_next_update_timestamp_seconds \d+/);
  });
});
