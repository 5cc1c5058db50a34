import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource, IsNull } from 'typeorm';
import { VpnDownloadLink } from '../src/ops/vpn/vpn-audit.entity';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { createUser, login, LoginSession } from './support/users';
import { block, EASYRSA, openssl, vpnToolsAvailable } from './support/vpn';

const describeVpn = vpnToolsAvailable() ? describe : describe.skip;

/** VPN clients owned by users: self-service downloads and one-time links (real easy-rsa). */
describeVpn('VPN for people: owners, self-service, one-time links', () => {
  let t: TestApp;
  let staff: LoginSession;
  let ann: LoginSession;
  let ben: LoginSession;
  let annId: number;

  beforeAll(async () => {
    t = await startApp({
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
      VPN_SELF_SERVICE: 'true',
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true, isSuperuser: true });
    annId = (await createUser(t, { username: 'ann', password: 'ann-pass' })).id;
    await createUser(t, { username: 'ben', password: 'ben-pass' });
    staff = await login(t, 'boss', 'boss-pass');
    ann = await login(t, 'ann', 'ann-pass');
    ben = await login(t, 'ben', 'ben-pass');
    await t.app.get(VpnService).init('udp://vpn.example.org:1194', 'test');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  const http = () => request(t.baseUrl);
  const as = (s: LoginSession, r: request.Test) => r.set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
  const verifies = (profile: string, label: string) => {
    writeFileSync(join(t.dataDir, `${label}.crt`), block(profile, 'cert'));
    writeFileSync(join(t.dataDir, `${label}-ca.crt`), block(profile, 'ca'));
    return openssl([
      'verify',
      '-CAfile',
      join(t.dataDir, `${label}-ca.crt`),
      join(t.dataDir, `${label}.crt`),
    ]);
  };

  it('staff create clients for a user by username and by id; the owner is shown', async () => {
    const a = await as(staff, http().post('/admin/vpn/clients')).send({ name: 'ann-laptop', user: 'ann' });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({
      name: 'ann-laptop',
      status: 'VALID',
      owner: { id: annId, username: 'ann' },
    });
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'ann-phone', user: annId }).expect(201);
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'ben-laptop', user: 'ben' }).expect(201);
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'printer' }).expect(201);
    const list = await as(staff, http().get('/admin/vpn/clients')).expect(200);
    const owners = Object.fromEntries(
      list.body.map((c: { name: string; owner: { username: string } | null }) => [
        c.name,
        c.owner?.username ?? null,
      ]),
    );
    expect(owners).toEqual({ 'ann-laptop': 'ann', 'ann-phone': 'ann', 'ben-laptop': 'ben', printer: null });
    const ofAnn = await as(staff, http().get(`/admin/users/${annId}/vpn-clients`)).expect(200);
    expect(ofAnn.body.map((c: { name: string }) => c.name).sort()).toEqual(['ann-laptop', 'ann-phone']);
  });

  it('an unknown or malformed owner is a 400 saying so, and no certificate is made', async () => {
    const unknown = await as(staff, http().post('/admin/vpn/clients')).send({ name: 'x1', user: 'nobody' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/user "nobody" does not exist/);
    const bad = await as(staff, http().post('/admin/vpn/clients')).send({ name: 'x2', user: { id: 1 } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.message)).toMatch(/user must be a user id/);
    await as(staff, http().post('/admin/vpn/clients')).send({ name: 'x3', user: 0 }).expect(400);
    const list = await as(staff, http().get('/admin/vpn/clients')).expect(200);
    expect(list.body.map((c: { name: string }) => c.name)).not.toEqual(expect.arrayContaining(['x1']));
    expect(list.body.map((c: { name: string }) => c.name)).not.toContain('x2');
  });

  it('a user lists and downloads their own profiles, and the certificate verifies', async () => {
    const mine = await as(ann, http().get('/me/vpn/clients')).expect(200);
    expect(mine.body.map((c: { name: string }) => c.name).sort()).toEqual(['ann-laptop', 'ann-phone']);
    const res = await as(ann, http().get('/me/vpn/clients/ann-laptop/profile')).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-openvpn-profile/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="ann-laptop.ovpn"');
    expect(res.text).toMatch(/^remote vpn\.example\.org 1194 udp$/m);
    const v = verifies(res.text, 'ann-laptop');
    expect(v.status).toBe(0);
    expect(openssl(['x509', '-in', join(t.dataDir, 'ann-laptop.crt'), '-noout', '-subject']).out).toMatch(
      /CN ?= ?ann-laptop/,
    );
  });

  it("a user never sees another's client: 404 like a name that does not exist, not 403", async () => {
    const other = await as(ben, http().get('/me/vpn/clients/ann-laptop/profile')).expect(404);
    const none = await as(ben, http().get('/me/vpn/clients/no-such-client/profile')).expect(404);
    expect(other.body).toEqual({ ...none.body, message: other.body.message });
    expect(other.body.message).toBe('you have no VPN client "ann-laptop"');
    const unowned = await as(ben, http().get('/me/vpn/clients/printer/profile')).expect(404);
    expect(unowned.body.statusCode).toBe(404);
    const list = await as(ben, http().get('/me/vpn/clients')).expect(200);
    expect(list.body.map((c: { name: string }) => c.name)).toEqual(['ben-laptop']);
    const bad = await as(ben, http().get('/me/vpn/clients/..%2Fetc/profile')).expect(400);
    expect(bad.body.message).toMatch(/name must be/);
  });

  it('self-service is for logged-in users, and staff-only endpoints stay staff-only', async () => {
    await http().get('/me/vpn/clients').expect(401);
    await http().get('/me/vpn/clients/ann-laptop/profile').expect(401);
    await as(ann, http().get('/admin/vpn/clients')).expect(403);
    await as(ann, http().get(`/admin/users/${annId}/vpn-clients`)).expect(403);
    await as(ann, http().post('/admin/vpn/clients/ann-laptop/link')).expect(403);
  });

  it('self-service off: 403 saying how to turn it on (service check, same app)', async () => {
    const vpn = t.app.get(VpnService);
    const config = (vpn as unknown as { config: { selfService: boolean } }).config;
    config.selfService = false;
    try {
      const res = await as(ann, http().get('/me/vpn/clients')).expect(403);
      expect(res.body.message).toMatch(/VPN_SELF_SERVICE/);
      await as(ann, http().get('/me/vpn/clients/ann-laptop/profile')).expect(403);
    } finally {
      config.selfService = true;
    }
  });

  it('a one-time link downloads once; the second use is refused; both audited', async () => {
    const made = await as(staff, http().post('/admin/vpn/clients/printer/link')).expect(201);
    expect(made.body.url).toBe(`${t.baseUrl}${made.body.path}`);
    expect(made.body.path).toMatch(/^\/vpn\/links\/[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(made.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(23.9 * 3600_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000);
    const first = await http().get(made.body.path).expect(200);
    expect(first.headers['content-disposition']).toBe('attachment; filename="printer.ovpn"');
    expect(verifies(first.text, 'printer').status).toBe(0);
    const second = await http().get(made.body.path).expect(410);
    expect(second.body.message).toMatch(/already used/);
    const audit = await as(staff, http().get('/admin/vpn/audit')).expect(200);
    const rows = audit.body as Array<{ actor: string; action: string; clientName: string; outcome: string }>;
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'boss', action: 'link', clientName: 'printer', outcome: 'ok' }),
        expect.objectContaining({ action: 'link_download', clientName: 'printer', outcome: 'ok' }),
        expect.objectContaining({ action: 'link_download', clientName: 'printer', outcome: 'failed' }),
      ]),
    );
  });

  it('two downloads of one link at once: exactly one wins', async () => {
    const made = await as(staff, http().post('/admin/vpn/clients/ben-laptop/link')).expect(201);
    const results = await Promise.all([1, 2, 3].map(() => http().get(made.body.path)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 410, 410]);
  });

  it('an expired link is refused with 410, an unknown or malformed one with 404', async () => {
    const made = await as(staff, http().post('/admin/vpn/clients/ann-phone/link')).expect(201);
    await t.app
      .get(DataSource)
      .getRepository(VpnDownloadLink)
      .update({ usedAt: IsNull() }, { expiresAt: Date.now() - 1000 });
    const expired = await http().get(made.body.path).expect(410);
    expect(expired.body.message).toMatch(/expired at/);
    await http()
      .get(`/vpn/links/${'A'.repeat(43)}`)
      .expect(404);
    const bad = await http().get('/vpn/links/..%2F..%2Fetc%2Fpasswd').expect(404);
    expect(bad.body).toMatchObject({ statusCode: 404, message: 'no such download link' });
  });

  it('links are not made for clients that do not exist (404) or are revoked (410)', async () => {
    await as(staff, http().post('/admin/vpn/clients/nobody/link')).expect(404);
    await as(staff, http().post('/admin/vpn/clients/x%3Bid/link')).expect(400);
    const made = await as(staff, http().post('/admin/vpn/clients/ann-phone/link')).expect(201);
    await as(staff, http().delete('/admin/vpn/clients/ann-phone')).expect(204);
    await as(staff, http().post('/admin/vpn/clients/ann-phone/link')).expect(410);
    // a link made before the revocation no longer hands out the profile
    const late = await http().get(made.body.path).expect(410);
    expect(late.body.message).toMatch(/no longer valid/);
  });
});
