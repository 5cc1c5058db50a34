import { connect } from 'node:net';
import request from 'supertest';
import { Pbkdf2Pool } from '../src/auth/pbkdf2-pool';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { anonymousCsrf, createUser, login } from './support/users';
import { openWs, refusedUpgrade } from './support/ws';

/**
 * Protections that an attacker tried to walk around (issue 14): the login throttle under concurrent
 * guesses (counted in the database since issue 17), X-Forwarded-For spoofing behind the proxy,
 * WebSocket identity after logout/deactivation, and the Host check on WebSocket handshakes.
 */
describe.each(databaseVariants())('login protections on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '5' });
    await createUser(t, { username: 'victim', password: 'right-pass' });
    await createUser(t, {
      username: 'walker',
      password: 'walker-pass',
      firstName: 'Sky',
      lastName: 'Walker',
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  const http = () => request(t.baseUrl);

  async function attempt(username: string, password: string, forwardedFor: string) {
    const anon = await anonymousCsrf(t);
    return http()
      .post('/auth/login')
      .set('X-Forwarded-For', forwardedFor)
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username, password });
  }

  it('counts concurrent wrong passwords before hashing: 20 at once from one address, 5 hashed, 15 refused', async () => {
    const pool = t.app.get(Pbkdf2Pool);
    const hashedBefore = pool.derivations;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attempt('victim', `wrong-${i}`, '10.20.0.1')),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expect(pool.derivations - hashedBefore).toBe(5);
    // The right password is refused too from that address while the pair is locked, unchecked.
    const locked = await attempt('victim', 'right-pass', '10.20.0.1');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    expect(pool.derivations - hashedBefore).toBe(5);
    // Locked per username and address (django-axes' combination): from elsewhere the user logs in.
    expect((await attempt('victim', 'right-pass', '10.20.1.1')).status).toBe(200);
  });

  it('counts the address the trusted proxy appended, not the left-most one the client wrote', async () => {
    // Five failures from one real address, each with a different forged prefix.
    for (let i = 0; i < 5; i++) {
      const res = await attempt('spoofed', 'x', `203.0.113.${i}, 10.30.0.1`);
      expect(res.status).toBe(401);
    }
    // A new forged prefix does not give the real address a fresh counter.
    expect((await attempt('spoofed', 'x', '198.51.100.7, 10.30.0.1')).status).toBe(429);
    // Another real address behind the same forged prefix is not blocked.
    expect((await attempt('spoofed', 'x', '203.0.113.0, 10.30.0.2')).status).toBe(401);
    // Staff see the real address locked, and no forged one.
    const staff = await login(t, 'boss', 'boss-pass');
    const listed = await http().get('/admin/lockouts').set('Cookie', staff.cookie).expect(200);
    const mine = (listed.body.lockouts as { username: string; address: string; failures: number }[]).filter(
      (l) => l.username === 'spoofed',
    );
    expect(mine).toEqual([
      expect.objectContaining({ username: 'spoofed', address: '10.30.0.1', failures: 5 }),
    ]);
  });

  it('a logged-out session is anonymous on the very next WebSocket handshake', async () => {
    const session = await login(t, 'walker', 'walker-pass');
    const url = `ws://127.0.0.1:${t.port}/chat/identity/`;
    const before = await openWs(url, { headers: { Cookie: session.cookie } });
    expect(await before.next()).toBe('Bienvenue Sky Walker !');
    await before.close();
    await http()
      .post('/auth/logout')
      .set('Cookie', session.cookie)
      .set('X-CSRFToken', session.csrf)
      .expect(204);
    const after = await openWs(url, { headers: { Cookie: session.cookie } });
    expect(await after.next()).toBe('Bienvenue Anonymous troll !');
    await after.close();
  });

  it('deactivation and a new password end WebSocket identity at once', async () => {
    const staff = await login(t, 'boss', 'boss-pass');
    const url = `ws://127.0.0.1:${t.port}/chat/identity/`;
    const leaver = await createUser(t, { username: 'leaver', password: 'leaver-pass' });
    for (const change of [{ password: 'new-pass-1' }, { isActive: false }]) {
      if ('isActive' in change)
        await http()
          .patch(`/admin/users/${leaver.id}`)
          .set('Cookie', staff.cookie)
          .set('X-CSRFToken', staff.csrf)
          .send({ isActive: true })
          .expect(200);
      const session = await login(t, 'leaver', 'password' in change ? 'leaver-pass' : 'new-pass-1');
      const before = await openWs(url, { headers: { Cookie: session.cookie } });
      expect(await before.next()).toBe('Bienvenue leaver !');
      await before.close();
      await http()
        .patch(`/admin/users/${leaver.id}`)
        .set('Cookie', staff.cookie)
        .set('X-CSRFToken', staff.csrf)
        .send(change)
        .expect(200);
      const after = await openWs(url, { headers: { Cookie: session.cookie } });
      expect(await after.next()).toBe('Bienvenue Anonymous troll !');
      await after.close();
    }
  });

  it('refuses a WebSocket handshake for a host outside ALLOWED_HOSTS, or with no Host', async () => {
    const refused = await refusedUpgrade(`ws://127.0.0.1:${t.port}/chat/lobby/`, { Host: 'evil.example' });
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ statusCode: 400, message: 'Invalid Host header' });

    // HTTP/1.0 allows a request without Host; ws clients always send one, so speak raw.
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect(t.port, '127.0.0.1', () =>
        socket.write(
          'GET /chat/lobby/ HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('close', () => resolve(data.split('\r\n')[0]));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
    });
    expect(status).toMatch(/^HTTP\/1\.1 400 /);
  });
});
