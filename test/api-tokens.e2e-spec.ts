import request from 'supertest';
import { DataSource } from 'typeorm';
import { ApiToken } from '../src/auth/tokens/api-token.entity';
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
    t = await startApp({
      ...db.env,
      TRUST_PROXY: 'true',
      API_TOKEN_FAILURES_PER_ADDRESS: '5',
      API_TOKEN_RATE: '40',
    });
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

  it('an expired token is refused like an unknown one', async () => {
    const { key, id } = (
      await make(joe, { name: 'short', scopes: ['chat:read'], expiresInDays: 1 }).expect(201)
    ).body;
    await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(200);
    await t.app
      .get(DataSource)
      .getRepository(ApiToken)
      .update({ id }, { expiresAt: new Date(Date.now() - 1000) });
    const res = await http()
      .get('/auth/me')
      .set('Authorization', `Token ${key}`)
      .set('X-Forwarded-For', '10.9.2.1');
    expect([res.status, res.body.message]).toEqual([401, 'Invalid token.']);
    const listed = await http().get('/auth/tokens').set('Cookie', joe.cookie).expect(200);
    expect(listed.body.find((x: { id: number }) => x.id === id)).toMatchObject({ expired: true });
  });

  it('acts with the user’s rights narrowed to the scopes: staff endpoints need staff and the scope', async () => {
    const staffUsers = (await make(boss, { name: 'users', scopes: ['admin:users'] }).expect(201)).body.key;
    const staffChat = (await make(boss, { name: 'chat', scopes: ['chat:read'] }).expect(201)).body.key;
    const plainModerate = (await make(joe, { name: 'mod', scopes: ['chat:moderate'] }).expect(201)).body.key;
    await http().get('/admin/users').set('Authorization', `Token ${staffUsers}`).expect(200);
    // The same staff user, a token without the scope: refused, naming the scope.
    const narrow = await http().get('/admin/users').set('Authorization', `Token ${staffChat}`).expect(403);
    expect(narrow.body.message).toBe('This token lacks the "admin:users" scope');
    await http().get('/admin/certs').set('Authorization', `Token ${staffUsers}`).expect(403);
    // The scope does not make a user staff: room rules are staff's (chat:moderate opens the route).
    const notStaff = await http().get('/admin/chat/rooms').set('Authorization', `Token ${plainModerate}`);
    expect([notStaff.status, notStaff.body.message]).toEqual([403, 'Staff access required']);
    // chat:read reads history; an unsafe request with a token needs no CSRF header.
    await http().get('/chat/rooms/lobby/messages').set('Authorization', `Token ${staffChat}`).expect(200);
    const users = await http()
      .post('/admin/users')
      .set('Authorization', `Token ${staffUsers}`)
      .send({ username: 'made-by-token', password: 'orbit-tulip-58' });
    expect(users.status).toBe(201);
  });

  it('rate-limits each token (API_TOKEN_RATE per minute) with 429 and Retry-After', async () => {
    const { key } = (await make(joe, { name: 'busy', scopes: ['chat:read'] }).expect(201)).body;
    // The window is the clock's minute: start right after one turns, so the loop stays inside it.
    while (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 500));
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 45; i++) {
      const res = await http().get('/auth/me').set('Authorization', `Token ${key}`);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers['retry-after'];
    }
    expect(statuses.filter((x) => x === 200)).toHaveLength(40);
    expect(statuses.slice(40)).toEqual([429, 429, 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // Another token of the same user is not slowed down by this one.
    const other = (await make(joe, { name: 'calm', scopes: ['chat:read'] }).expect(201)).body.key;
    await http().get('/auth/me').set('Authorization', `Token ${other}`).expect(200);
  });

  it('rate-limits publishing with a session per user (API_TOKEN_RATE per minute), as tokens are', async () => {
    await createUser(t, { username: 'dee', password: 'dee-pass' });
    const deeSession = await login(t, 'dee', 'dee-pass');
    const post = (who: LoginSession, text: string) =>
      http()
        .post('/chat/rooms/session-rate/messages')
        .set('Cookie', who.cookie)
        .set('X-CSRFToken', who.csrf)
        .send({ text });
    while (Date.now() % 60_000 > 50_000) await new Promise((r) => setTimeout(r, 500));
    const statuses: number[] = [];
    let refused: request.Response | undefined;
    for (let i = 0; i < 43; i++) {
      const res = await post(deeSession, `m${i}`);
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses.filter((x) => x === 201)).toHaveLength(40);
    expect(statuses.slice(40)).toEqual([429, 429, 429]);
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused?.body).toMatchObject({
      statusCode: 429,
      message: expect.stringContaining('per minute per user'),
    });
    // Nothing refused was posted: the room holds exactly the 40 that were accepted.
    const history = await http()
      .get('/chat/rooms/session-rate/messages?limit=100')
      .set('Cookie', boss.cookie);
    expect(history.status).toBe(200);
    const texts = (history.body.messages ?? history.body).map((m: { text: string }) => m.text);
    expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    // Another user's session is not slowed down by this one.
    await post(joe, 'joe is fine').expect(201);
  });

  it('refuses hostile Authorization headers with 401 JSON, never a 500', async () => {
    const cases = [
      `Token ${'x'.repeat(8000)}`,
      'Token live_é',
      `Bearer live_${'A'.repeat(42)}%`,
      'Token a b c',
      'token    ',
      `Token live_${'A'.repeat(43)}\t`,
    ];
    for (const [i, header] of cases.entries()) {
      const res = await http()
        .get('/auth/me')
        .set('Authorization', header)
        .set('X-Forwarded-For', `10.9.3.${i}`);
      expect([header.slice(0, 20), res.status]).toEqual([header.slice(0, 20), 401]);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    }
    // Another scheme (Basic) is not live's: ignored, the request is anonymous.
    const basic = await http().get('/auth/me').set('Authorization', 'Basic am9lOmpvZS1wYXNz');
    expect([basic.status, basic.body.message]).toEqual([401, 'Authentication credentials were not provided']);
  });
});
