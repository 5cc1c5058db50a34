import request from 'supertest';
import { DataSource } from 'typeorm';
import { hashTokenKey } from '../src/auth/tokens/api-token.store';
import { UsersService } from '../src/auth/users.service';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';

/** API tokens' lifecycle (issue 19): made, shown once, hashed at rest, listed, scoped, revoked, expired. */
describe.each(databaseVariants())('API tokens on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let joe: LoginSession;
  let boss: LoginSession;
  let joeId: number;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, TRUST_PROXY: 'true', API_TOKEN_FAILURES_PER_ADDRESS: '5' });
    joeId = (await createUser(t, { username: 'joe', password: 'joe-pass', firstName: 'Joe' })).id;
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    joe = await login(t, 'joe', 'joe-pass');
    boss = await login(t, 'boss', 'boss-pass');
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  const http = () => request(t.baseUrl);
  const make = (who: LoginSession, body: object) =>
    http().post('/auth/tokens').set('Cookie', who.cookie).set('X-CSRFToken', who.csrf).send(body);

  it('shows the key once and keeps only its SHA-256', async () => {
    const res = await make(joe, { name: 'script', scopes: ['chat:read'] }).expect(201);
    const key: string = res.body.key;
    expect(key).toMatch(/^live_[A-Za-z0-9_-]{43}$/);
    expect(res.body).toMatchObject({
      name: 'script',
      scopes: ['chat:read'],
      expiresAt: null,
      user: { id: joeId },
    });
    const rows: { key_hash: string; key_prefix: string }[] = await t.app
      .get(DataSource)
      .query(`SELECT key_hash, key_prefix FROM live_api_token WHERE id = ${Number(res.body.id)}`);
    expect(rows).toHaveLength(1);
    expect(rows[0].key_hash).toBe(hashTokenKey(key));
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(key.startsWith(rows[0].key_prefix)).toBe(true);
    const list = await http().get('/auth/tokens').set('Cookie', joe.cookie).expect(200);
    expect(list.body.map((x: { id: number }) => x.id)).toContain(res.body.id);
    expect(JSON.stringify(list.body)).not.toContain(key);
  });

  it('authenticates with Token and Bearer, without CSRF, and is narrowed to its scopes', async () => {
    const { key } = (await make(joe, { name: 'me', scopes: ['chat:read'] }).expect(201)).body;
    for (const scheme of ['Token', 'Bearer']) {
      const me = await http().get('/auth/me').set('Authorization', `${scheme} ${key}`).expect(200);
      expect(me.body).toMatchObject({ username: 'joe' });
    }
    // Token management is for sessions only: a leaked token cannot mint another.
    const mint = await http()
      .post('/auth/tokens')
      .set('Authorization', `Token ${key}`)
      .send({ name: 'x', scopes: ['chat:read'] });
    expect(mint.status).toBe(403);
    expect(mint.body.message).toMatch(/does not accept API tokens/);
  });

  it('refuses unknown, malformed and revoked tokens alike, and stops a revoked one at once', async () => {
    const { key, id } = (await make(joe, { name: 'gone', scopes: ['chat:read'] }).expect(201)).body;
    await http()
      .get('/auth/me')
      .set('Authorization', `Token ${key}`)
      .set('X-Forwarded-For', '10.9.0.1')
      .expect(200);
    await http()
      .delete(`/auth/tokens/${id}`)
      .set('Cookie', joe.cookie)
      .set('X-CSRFToken', joe.csrf)
      .expect(204);
    const revoked = await http()
      .get('/auth/me')
      .set('Authorization', `Token ${key}`)
      .set('X-Forwarded-For', '10.9.0.1');
    const unknown = await http()
      .get('/auth/me')
      .set('Authorization', `Token live_${'A'.repeat(43)}`)
      .set('X-Forwarded-For', '10.9.0.1');
    expect(revoked.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(revoked.body).toEqual(unknown.body);
    expect(revoked.headers['www-authenticate']).toBe('Token');
    const noKey = await http()
      .get('/auth/me')
      .set('Authorization', 'Token')
      .set('X-Forwarded-For', '10.9.0.2');
    expect(noKey.status).toBe(401);
    expect(noKey.body.message).toMatch(/No credentials provided/);
  });

  it('limits failed token requests per address with 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await http()
        .get('/auth/me')
        .set('Authorization', `Token live_${'B'.repeat(43)}`)
        .set('X-Forwarded-For', '10.9.1.1');
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[6]).toBe(429);
  });

  it('stops the tokens of a deactivated user at once', async () => {
    const sam = await createUser(t, { username: 'sam', password: 'sam-pass' });
    const samSession = await login(t, 'sam', 'sam-pass');
    const { key } = (await make(samSession, { name: 'bot', scopes: ['chat:read'] }).expect(201)).body;
    await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(200);
    await t.app.get(UsersService).update(sam.id, { isActive: false });
    await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(401);
  });

  it('refuses admin scopes for non-staff and lets staff make service tokens', async () => {
    const res = await make(joe, { name: 'x', scopes: ['admin:users'] });
    expect(res.status).toBe(400);
    const service = await make(boss, { name: 'ci', scopes: ['chat:publish'], user: joeId, expiresInDays: 1 });
    expect(service.status).toBe(201);
    expect(service.body).toMatchObject({
      user: { id: joeId, username: 'joe' },
      createdBy: expect.any(Number),
    });
    const forOther = await make(joe, { name: 'x', scopes: ['chat:read'], user: service.body.createdBy });
    expect(forOther.status).toBe(403);
  });
});
