import request from 'supertest';
import { DataSource } from 'typeorm';
import { Session } from '../src/auth/session.entity';
import { User } from '../src/auth/user.entity';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { anonymousCsrf, cookieValue, createUser, login, LoginSession } from './support/users';

describe.each(databaseVariants())('auth and users on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let staff: LoginSession;
  let plain: LoginSession;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    // Behind a trusted proxy, so each failing-login test can come from its own address (X-Forwarded-For).
    t = await startApp({ ...db.env, TRUST_PROXY: 'true' });
    await createUser(t, {
      username: 'boss',
      password: 'boss-pass',
      isStaff: true,
      firstName: 'Big',
      lastName: 'Boss',
    });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
    staff = await login(t, 'boss', 'boss-pass');
    plain = await login(t, 'joe', 'joe-pass');
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  const http = () => request(t.baseUrl);

  describe('health and errors', () => {
    it('GET /health is 200 with the database up', async () => {
      const res = await http().get('/health').expect(200);
      expect(res.body).toMatchObject({ status: 'ok', components: { database: { status: 'up' } } });
    });

    it('unknown routes are JSON 404s', async () => {
      const res = await http().get('/no/such/thing').expect(404);
      expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /no/such/thing' });
    });

    it('malformed JSON is a 400, not a 500', async () => {
      const anon = await anonymousCsrf(t);
      const res = await http()
        .post('/auth/login')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .set('Content-Type', 'application/json')
        .send('{"username": ');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });

    it('refuses a Host outside ALLOWED_HOSTS', async () => {
      const res = await http().get('/health').set('Host', 'evil.example').expect(400);
      expect(res.body.message).toBe('Invalid Host header');
    });
  });

  describe('login', () => {
    it('logs in, sets an HttpOnly SameSite=Lax session cookie, and /auth/me answers', async () => {
      const anon = await anonymousCsrf(t);
      const res = await http()
        .post('/auth/login')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'boss', password: 'boss-pass' })
        .expect(200);
      expect(res.body).toEqual({
        id: expect.any(Number),
        username: 'boss',
        firstName: 'Big',
        lastName: 'Boss',
        fullName: 'Big Boss',
        email: '',
        isStaff: true,
        isSuperuser: false,
      });
      const setCookie = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
        c.startsWith('sessionid='),
      );
      expect(setCookie).toMatch(/HttpOnly/);
      expect(setCookie).toMatch(/SameSite=Lax/);
      expect(setCookie).not.toMatch(/Secure/);
      expect(setCookie).toMatch(/Max-Age=1209600/);
      const key = cookieValue(res.headers['set-cookie'], 'sessionid');
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      const me = await http().get('/auth/me').set('Cookie', `sessionid=${key}`).expect(200);
      expect(me.body.username).toBe('boss');
      const row = await t.app.get(DataSource).getRepository(Session).findOneBy({ sessionKey: key });
      // Whose session it is lives only in the signed data, as in Django (no extra column).
      expect(row && Object.keys(row).sort()).toEqual(['expireDate', 'sessionData', 'sessionKey']);
      expect(row?.sessionData).toMatch(/^\.?[A-Za-z0-9_-]+:[0-9A-Za-z]+:[A-Za-z0-9_-]{43}$/);
      const user = await t.app.get(DataSource).getRepository(User).findOneBy({ username: 'boss' });
      expect(user?.lastLogin).toBeInstanceOf(Date);
    });

    it('rotates the session key at login (no fixation)', async () => {
      const res = await http()
        .post('/auth/login')
        .set('Cookie', staff.cookie)
        .set('X-CSRFToken', staff.csrf)
        .send({ username: 'boss', password: 'boss-pass' })
        .expect(200);
      const oldKey = /sessionid=([a-z0-9]+)/.exec(staff.cookie)?.[1];
      const newKey = cookieValue(res.headers['set-cookie'], 'sessionid');
      expect(newKey).not.toBe(oldKey);
      await http().get('/auth/me').set('Cookie', `sessionid=${oldKey}`).expect(401);
      staff = {
        cookie: `sessionid=${newKey}; csrftoken=${cookieValue(res.headers['set-cookie'], 'csrftoken')}`,
        csrf: cookieValue(res.headers['set-cookie'], 'csrftoken') as string,
      };
    });

    it('answers unknown user and wrong password with the same 401', async () => {
      const anon = await anonymousCsrf(t);
      const a = await http()
        .post('/auth/login')
        .set('X-Forwarded-For', '10.0.1.1')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'ghost', password: 'x' });
      const b = await http()
        .post('/auth/login')
        .set('X-Forwarded-For', '10.0.1.2')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'joe', password: 'x' });
      expect(a.status).toBe(401);
      expect(b.status).toBe(401);
      expect(a.body).toEqual(b.body);
    });

    it('refuses inactive users', async () => {
      await createUser(t, { username: 'sleepy', password: 'pw', isActive: false });
      const anon = await anonymousCsrf(t);
      await http()
        .post('/auth/login')
        .set('X-Forwarded-For', '10.0.2.1')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'sleepy', password: 'pw' })
        .expect(401);
    });

    it('validates the body', async () => {
      const anon = await anonymousCsrf(t);
      const send = (body: unknown) =>
        http()
          .post('/auth/login')
          .set('Cookie', anon.cookie)
          .set('X-CSRFToken', anon.csrf)
          .send(body as object);
      expect((await send({ username: 'joe' })).status).toBe(400);
      expect((await send({ username: 1, password: 'x' })).status).toBe(400);
      const extra = await send({ username: 'joe', password: 'joe-pass', admin: true });
      expect(extra.status).toBe(400);
      expect(extra.body.message).toEqual(['property admin should not exist']);
    });

    it('is CSRF-protected: no cookie, no header, wrong header → 403 saying so', async () => {
      const anon = await anonymousCsrf(t);
      const body = { username: 'joe', password: 'joe-pass' };
      const noCookie = await http().post('/auth/login').send(body).expect(403);
      expect(noCookie.body.message).toBe('CSRF Failed: CSRF cookie not set.');
      const noHeader = await http().post('/auth/login').set('Cookie', anon.cookie).send(body).expect(403);
      expect(noHeader.body.message).toBe('CSRF Failed: CSRF token missing.');
      const wrong = await http()
        .post('/auth/login')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', 'x'.repeat(32))
        .send(body)
        .expect(403);
      expect(wrong.body.message).toBe('CSRF Failed: CSRF token incorrect.');
    });

    it('throttles after 5 failures for a username with 429 and Retry-After', async () => {
      await createUser(t, { username: 'target', password: 'right' });
      const anon = await anonymousCsrf(t);
      const attempt = (password: string) =>
        http()
          .post('/auth/login')
          .set('Cookie', anon.cookie)
          .set('X-CSRFToken', anon.csrf)
          .set('X-Forwarded-For', '10.9.9.9')
          .send({ username: 'target', password });
      for (let i = 0; i < 5; i++) expect((await attempt('wrong')).status).toBe(401);
      const blocked = await attempt('right');
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(800);
      expect(blocked.body.message).toMatch(/Too many failed login attempts/);
    });

    it('throttles an address that tries many usernames (LOGIN_MAX_FAILURES_PER_ADDRESS), and not other addresses', async () => {
      const anon = await anonymousCsrf(t);
      const attempt = (username: string, address: string) =>
        http()
          .post('/auth/login')
          .set('Cookie', anon.cookie)
          .set('X-CSRFToken', anon.csrf)
          .set('X-Forwarded-For', address)
          .send({ username, password: 'nope' });
      for (let i = 0; i < t.config.loginMaxFailuresPerAddress; i++)
        expect((await attempt(`spray${i}`, '10.8.8.8')).status).toBe(401);
      expect((await attempt('joe', '10.8.8.8')).status).toBe(429);
      expect((await attempt('spray9', '10.8.8.9')).status).toBe(401);
    });

    it('marks the session cookie Secure when the request came over TLS (trusted proxy)', async () => {
      const anon = await anonymousCsrf(t);
      const res = await http()
        .post('/auth/login')
        .set('X-Forwarded-Proto', 'https')
        .set('Origin', `https://127.0.0.1:${t.port}`) // over HTTPS, Django checks the Origin too
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'joe', password: 'joe-pass' })
        .expect(200);
      const setCookie = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
        c.startsWith('sessionid='),
      );
      expect(setCookie).toMatch(/; Secure/);
    });
  });

  describe('logout and me', () => {
    it('logout deletes the session → 204, then /auth/me is 401', async () => {
      const s = await login(t, 'joe', 'joe-pass');
      await http().post('/auth/logout').set('Cookie', s.cookie).set('X-CSRFToken', s.csrf).expect(204);
      await http().get('/auth/me').set('Cookie', s.cookie).expect(401);
    });

    it('logout needs the CSRF header when cookie-authenticated', async () => {
      const res = await http().post('/auth/logout').set('Cookie', plain.cookie).expect(403);
      expect(res.body.message).toMatch(/CSRF/);
    });

    it('/auth/me without a session is a JSON 401; a forged cookie too', async () => {
      const res = await http().get('/auth/me').expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      await http()
        .get('/auth/me')
        .set('Cookie', 'sessionid=' + 'a'.repeat(32))
        .expect(401);
      await http().get('/auth/me').set('Cookie', 'sessionid=../../etc').expect(401);
    });
  });

  describe('staff user admin', () => {
    const asStaff = (r: request.Test) => r.set('Cookie', staff.cookie).set('X-CSRFToken', staff.csrf);

    it('anonymous → 401, non-staff → 403', async () => {
      await http().get('/admin/users').expect(401);
      await http().get('/admin/users').set('Cookie', plain.cookie).expect(403);
      await http()
        .post('/admin/users')
        .set('Cookie', plain.cookie)
        .set('X-CSRFToken', plain.csrf)
        .send({ username: 'x' })
        .expect(403);
    });

    it('creates, lists, searches, updates and deletes users', async () => {
      const created = await asStaff(http().post('/admin/users'))
        .send({ username: 'new.user@x', password: 'first-pass-1', email: 'n@example.org', firstName: 'Nu' })
        .expect(201);
      expect(created.body).toMatchObject({
        username: 'new.user@x',
        email: 'n@example.org',
        fullName: 'Nu',
        isActive: true,
        hasUsablePassword: true,
      });
      const id = created.body.id as number;
      await asStaff(http().post('/admin/users')).send({ username: 'new.user@x' }).expect(409);

      const list = await asStaff(http().get('/admin/users?search=NEW.u')).expect(200);
      expect(list.body.results.map((u: { username: string }) => u.username)).toEqual(['new.user@x']);
      expect(list.body.count).toBe(1);

      const patched = await asStaff(http().patch(`/admin/users/${id}`))
        .send({ lastName: 'User', isActive: false, password: 'second-pass-2' })
        .expect(200);
      expect(patched.body).toMatchObject({ fullName: 'Nu User', isActive: false });
      await asStaff(http().patch(`/admin/users/${id}`))
        .send({ isActive: true })
        .expect(200);
      await login(t, 'new.user@x', 'second-pass-2');

      await asStaff(http().delete(`/admin/users/${id}`)).expect(204);
      await asStaff(http().delete(`/admin/users/${id}`)).expect(404);
      await asStaff(http().patch(`/admin/users/${id}`))
        .send({ firstName: 'x' })
        .expect(404);
    });

    it('rejects bad input with 400 and a message', async () => {
      const bad = await asStaff(http().post('/admin/users')).send({ username: 'has space' }).expect(400);
      expect(bad.body.message).toEqual(['username must be 1 to 150 letters, digits and @.+-_']);
      await asStaff(http().post('/admin/users'))
        .send({ username: 'x'.repeat(151) })
        .expect(400);
      await asStaff(http().post('/admin/users')).send({ username: 'ok', email: 'not-an-email' }).expect(400);
      await asStaff(http().post('/admin/users')).send({ username: 'ok', isStaff: 'yes' }).expect(400);
      await asStaff(http().post('/admin/users')).send({ username: 'ok', role: 'god' }).expect(400);
      await asStaff(http().patch('/admin/users/abc')).send({}).expect(400);
      await asStaff(http().get('/admin/users?limit=0')).expect(400);
      await asStaff(http().get('/admin/users?limit=abc')).expect(400);
    });

    it('a user created without a password cannot log in', async () => {
      await asStaff(http().post('/admin/users')).send({ username: 'nopass' }).expect(201);
      const anon = await anonymousCsrf(t);
      await http()
        .post('/auth/login')
        .set('X-Forwarded-For', '10.0.3.1')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'nopass', password: '' })
        .expect(401);
    });

    it('deactivating a user ends their sessions', async () => {
      const u = await createUser(t, { username: 'leaving', password: 'pw' });
      const s = await login(t, 'leaving', 'pw');
      await http().get('/auth/me').set('Cookie', s.cookie).expect(200);
      await asStaff(http().patch(`/admin/users/${u.id}`))
        .send({ isActive: false })
        .expect(200);
      await http().get('/auth/me').set('Cookie', s.cookie).expect(401);
    });

    it('staff cannot delete themselves', async () => {
      const me = await http().get('/auth/me').set('Cookie', staff.cookie).expect(200);
      await asStaff(http().delete(`/admin/users/${me.body.id}`)).expect(400);
    });
  });
});
