import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource, IsNull } from 'typeorm';
import { VpnDownloadLink } from '../src/ops/vpn/vpn-audit.entity';
import { ApiTokenStore } from '../src/auth/tokens/api-token.store';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';
import { block, EASYRSA, openssl, vpnToolsAvailable } from './support/vpn';
import { openWs } from './support/ws';

const describeVpn = vpnToolsAvailable() ? describe : describe.skip;

/** VPN clients owned by users: self-service downloads and one-time links (real easy-rsa). */
describeVpn.each(databaseVariants())(
  'VPN for people: owners, self-service, one-time links, offboarding on $name',
  (variant) => {
    let teardownDb: (() => Promise<void>) | undefined;
    let t: TestApp;
    let staff: LoginSession;
    let ann: LoginSession;
    let ben: LoginSession;
    let annId: number;

    beforeAll(async () => {
      const db = await variant.setup();
      teardownDb = db.teardown;
      t = await startApp({
        ...db.env,
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
      await teardownDb?.();
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
      await as(staff, http().post('/admin/vpn/clients'))
        .send({ name: 'ben-laptop', user: 'ben' })
        .expect(201);
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
      // The user's own page lists them too.
      const page = await as(staff, http().get(`/admin/users/${annId}`)).expect(200);
      expect(page.body.username).toBe('ann');
      expect(page.body.vpnClients.map((c: { name: string }) => c.name).sort()).toEqual([
        'ann-laptop',
        'ann-phone',
      ]);
      expect(page.body.unavailable).toBeUndefined();
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
      const rows = audit.body as Array<{
        actor: string;
        action: string;
        clientName: string;
        outcome: string;
      }>;
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

    it('without VPN_MANAGEMENT the connections endpoints say so (503) and nothing else breaks', async () => {
      for (const r of [
        as(staff, http().get('/admin/vpn/connections')),
        as(staff, http().delete('/admin/vpn/connections/ann-laptop')),
      ]) {
        const res = await r.expect(503);
        expect(res.body.message).toMatch(/management interface is not configured \(set VPN_MANAGEMENT/);
      }
      await as(staff, http().get('/admin/vpn/status')).expect(200);
      const metrics = (await http().get('/metrics').expect(200)).text;
      expect(metrics).toMatch(/^live_vpn_clients\{status="VALID"\} [1-9]/m);
      expect(metrics).not.toMatch(/^live_vpn_client_bytes\{/m);
    });

    describe('offboarding', () => {
      type Item = { step: string; target: string | null; outcome: string; detail: string };
      const statusOf = async (name: string) =>
        (await as(staff, http().get('/admin/vpn/clients')).expect(200)).body.find(
          (c: { name: string }) => c.name === name,
        )?.status;

      it('ends everything of a user with a session, an open socket, two VPN clients and a token', async () => {
        const cat = await createUser(t, { username: 'cat', password: 'cat-pass', firstName: 'Cat' });
        const session = await login(t, 'cat', 'cat-pass');
        await as(staff, http().post('/admin/vpn/clients'))
          .send({ name: 'cat-laptop', user: 'cat' })
          .expect(201);
        await as(staff, http().post('/admin/vpn/clients'))
          .send({ name: 'cat-phone', user: cat.id })
          .expect(201);
        const { key } = await t.app.get(ApiTokenStore).create({
          user: cat,
          name: 'cat-script',
          scopes: ['chat:read'],
          expiresInDays: null,
          createdBy: null,
        });
        await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(200);
        await as(session, http().get('/auth/me')).expect(200);
        const socket = await openWs(`ws://127.0.0.1:${t.port}/chat/offboard/?history=0`, {
          protocols: ['live.v1'],
          headers: { cookie: session.cookie },
        });
        const plan = await as(staff, http().get(`/admin/users/${cat.id}/offboard`)).expect(200);
        expect(plan.body).toEqual({
          user: { id: cat.id, username: 'cat', isActive: true },
          tokens: 1,
          vpnClients: ['cat-laptop', 'cat-phone'],
        });

        const res = await as(staff, http().post(`/admin/users/${cat.id}/offboard`)).expect(200);
        expect(res.body.complete).toBe(true);
        const items = res.body.items as Item[];
        expect(items.map((i) => [i.step, i.target, i.outcome])).toEqual([
          ['deactivate', null, 'done'],
          ['sessions', null, 'done'],
          ['tokens', expect.stringMatching(/^\d+$/), 'done'],
          ['vpn', 'cat-laptop', 'done'],
          ['vpn', 'cat-phone', 'done'],
        ]);
        expect(items[1].detail).toBe('1 session ended');

        // checked one by one
        const user = await as(staff, http().get(`/admin/users/${cat.id}`)).expect(200);
        expect(user.body.isActive).toBe(false);
        await as(session, http().get('/auth/me')).expect(401);
        await expect(login(t, 'cat', 'cat-pass')).rejects.toThrow(/failed: 40/);
        const closed = await Promise.race([
          socket.closed,
          new Promise<null>((r) => setTimeout(() => r(null), 3000)),
        ]);
        expect(closed).toEqual({ code: 4001, reason: 'session ended' });
        await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(401);
        expect(await t.app.get(ApiTokenStore).list(cat.id)).toEqual([]);
        expect(await statusOf('cat-laptop')).toBe('REVOKED');
        expect(await statusOf('cat-phone')).toBe('REVOKED');

        const audit = await as(staff, http().get('/admin/vpn/audit')).expect(200);
        const rows = (
          audit.body as Array<{ actor: string; action: string; outcome: string; detail: string }>
        ).filter((r) => r.action === 'offboard');
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ actor: 'boss', outcome: 'ok' });
        expect(rows[0].detail).toMatch(
          /^user cat \(#\d+\): deactivate done.*sessions done: 1 session ended; tokens \d+ done: revoked "cat-script"; vpn cat-laptop done: revoked; vpn cat-phone done: revoked$/,
        );

        // offboarding again changes nothing and says so
        const again = await as(staff, http().post(`/admin/users/${cat.id}/offboard`)).expect(200);
        expect(again.body.complete).toBe(true);
        expect((again.body.items as Item[]).map((i) => [i.step, i.outcome])).toEqual([
          ['deactivate', 'already'],
          ['sessions', 'already'],
          ['tokens', 'already'],
          ['vpn', 'already'],
          ['vpn', 'already'],
        ]);
      });

      it('a partial failure is reported item by item, and the same request retries it', async () => {
        const dan = await createUser(t, { username: 'dan', password: 'dan-pass' });
        await as(staff, http().post('/admin/vpn/clients'))
          .send({ name: 'dan-laptop', user: 'dan' })
          .expect(201);
        // easy-rsa gone for a moment: the VPN item fails, the rest is still done
        const config = (t.app.get(VpnService) as unknown as { config: { easyrsaBin: string } }).config;
        const easyrsa = config.easyrsaBin;
        config.easyrsaBin = join(t.dataDir, 'no-such-easyrsa');
        let first: request.Response;
        try {
          first = await as(staff, http().post(`/admin/users/${dan.id}/offboard`)).expect(200);
        } finally {
          config.easyrsaBin = easyrsa;
        }
        expect(first.body.complete).toBe(false);
        const items = first.body.items as Item[];
        expect(items.find((i) => i.step === 'deactivate')?.outcome).toBe('done');
        expect(items.find((i) => i.step === 'vpn')).toMatchObject({
          target: 'dan-laptop',
          outcome: 'failed',
          detail: expect.stringMatching(/not available/),
        });
        expect(await statusOf('dan-laptop')).toBe('VALID');
        const retry = await as(staff, http().post(`/admin/users/${dan.id}/offboard`)).expect(200);
        expect(retry.body.complete).toBe(true);
        expect((retry.body.items as Item[]).find((i) => i.step === 'vpn')).toMatchObject({
          target: 'dan-laptop',
          outcome: 'done',
        });
        expect(await statusOf('dan-laptop')).toBe('REVOKED');
        const audit = (await as(staff, http().get('/admin/vpn/audit')).expect(200)).body as Array<{
          action: string;
          outcome: string;
          detail: string;
        }>;
        const dans = audit.filter((r) => r.action === 'offboard' && r.detail.startsWith('user dan '));
        expect(dans.map((r) => r.outcome)).toEqual(['ok', 'failed']); // newest first
        expect(dans[1].detail).toMatch(/vpn dan-laptop failed: /);
      });

      it('is refused as a whole for yourself, for non-staff, for nobody, and for a bad id', async () => {
        const me = (await as(staff, http().get('/auth/me')).expect(200)).body as { id: number };
        const self = await as(staff, http().post(`/admin/users/${me.id}/offboard`)).expect(400);
        expect(self.body.message).toMatch(/own account/);
        expect((await as(staff, http().get(`/admin/users/${me.id}`)).expect(200)).body.isActive).toBe(true);
        await as(ann, http().post(`/admin/users/${annId}/offboard`)).expect(403);
        await http().post(`/admin/users/${annId}/offboard`).expect(401);
        await as(staff, http().post('/admin/users/999999/offboard')).expect(404);
        const bad = await as(staff, http().post('/admin/users/abc/offboard')).expect(400);
        expect(bad.body.message).toMatch(/id must be an integer/);
      });
    });
  },
);
