import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { anonymousCsrf, cookieValue, createUser, login, LoginSession } from './support/users';
import { openWs, refusedUpgrade } from './support/ws';

/**
 * Django's cookie and CSRF settings end to end: the configured names everywhere a cookie is read or
 * set (HTTP, the CSRF check, the WebSocket upgrade), the session cookie's attributes, and the
 * Origin/Referer checks Django 4.0+ makes over HTTPS. SQLite only: none of this touches the database
 * differently on PostgreSQL. HTTPS is what a trusted proxy reports (X-Forwarded-Proto).
 */

const setCookies = (res: request.Response): string[] =>
  (res.headers['set-cookie'] as unknown as string[]) ?? [];
const setCookie = (res: request.Response, name: string) =>
  setCookies(res).find((c) => c.startsWith(`${name}=`));

describe('custom cookie names, a shared cookie domain and CSRF_TRUSTED_ORIGINS', () => {
  let t: TestApp;
  const http = () => request(t.baseUrl);

  beforeAll(async () => {
    t = await startApp({
      TRUST_PROXY: 'true',
      ALLOWED_HOSTS: '.example.org,127.0.0.1',
      SESSION_COOKIE_NAME: 'chat_session',
      CSRF_COOKIE_NAME: 'chat_csrf',
      SESSION_COOKIE_DOMAIN: '.example.org',
      SESSION_COOKIE_SAMESITE: 'Strict',
      CSRF_TRUSTED_ORIGINS: 'https://www.example.org,https://*.partner.test',
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', firstName: 'Big', lastName: 'Boss' });
  });

  afterAll(async () => t?.close());

  it('GET /auth/csrf sets the configured CSRF cookie and says its name', async () => {
    const res = await http().get('/auth/csrf').expect(200);
    expect(res.body).toEqual({
      csrfToken: expect.stringMatching(/^[a-zA-Z0-9]{32}$/),
      cookieName: 'chat_csrf',
    });
    expect(setCookies(res)).toHaveLength(1);
    expect(setCookie(res, 'chat_csrf')).toBe(
      `chat_csrf=${res.body.csrfToken}; Max-Age=31536000; Path=/; Expires=${/Expires=([^;]+)/.exec(setCookies(res)[0])![1]}; SameSite=Lax`,
    );
  });

  it('login sets the configured session cookie with its Domain and SameSite=Strict; /auth/me reads it, not sessionid', async () => {
    const anon = await anonymousCsrf(t);
    expect(anon.cookie).toMatch(/^chat_csrf=/);
    const res = await http()
      .post('/auth/login')
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username: 'boss', password: 'boss-pass' })
      .expect(200);
    const session = setCookie(res, 'chat_session')!;
    expect(session).toMatch(
      /^chat_session=[a-z0-9]{32}; Max-Age=1209600; Domain=\.example\.org; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/,
    );
    expect(setCookie(res, 'chat_csrf')).toBeDefined(); // rotated at login
    expect(setCookie(res, 'sessionid')).toBeUndefined();
    expect(setCookie(res, 'csrftoken')).toBeUndefined();
    const key = cookieValue(setCookies(res), 'chat_session')!;
    expect(
      (await http().get('/auth/me').set('Cookie', `chat_session=${key}`).expect(200)).body.username,
    ).toBe('boss');
    await http().get('/auth/me').set('Cookie', `sessionid=${key}`).expect(401);
  });

  it('logout clears the session cookie with the same Domain and Path', async () => {
    const s = await login(t, 'boss', 'boss-pass');
    const res = await http()
      .post('/auth/logout')
      .set('Cookie', s.cookie)
      .set('X-CSRFToken', s.csrf)
      .expect(204);
    expect(setCookie(res, 'chat_session')).toMatch(
      /^chat_session=; Domain=\.example\.org; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict$/,
    );
    await http().get('/auth/me').set('Cookie', s.cookie).expect(401);
  });

  it('the CSRF check reads the configured cookies: a csrftoken cookie is no CSRF cookie, sessionid no session', async () => {
    const anon = await anonymousCsrf(t);
    const res = await http()
      .post('/auth/login')
      .set('Cookie', `csrftoken=${anon.csrf}`)
      .set('X-CSRFToken', anon.csrf)
      .send({ username: 'boss', password: 'boss-pass' })
      .expect(403);
    expect(res.body.message).toBe('CSRF Failed: CSRF cookie not set.');
    // Not a session cookie here, so nothing to protect: logout without a token is not refused.
    await http()
      .post('/auth/logout')
      .set('Cookie', `sessionid=${'a'.repeat(32)}`)
      .expect(204);
    const s = await login(t, 'boss', 'boss-pass');
    const refused = await http().post('/auth/logout').set('Cookie', s.cookie).expect(403);
    expect(refused.body.message).toBe('CSRF Failed: CSRF token missing.');
  });

  it('the WebSocket upgrade reads the configured session cookie', async () => {
    const s = await login(t, 'boss', 'boss-pass');
    const key = /chat_session=([a-z0-9]{32})/.exec(s.cookie)![1];
    const url = `ws://127.0.0.1:${t.port}/chat/cookies/`;
    const named = await openWs(url, { headers: { Cookie: `chat_session=${key}` } });
    expect(await named.next()).toBe('Bienvenue Big Boss !');
    await named.close();
    const other = await openWs(url, { headers: { Cookie: `sessionid=${key}` } });
    expect(await other.next()).toBe('Bienvenue Anonymous troll !');
    await other.close();
  });

  describe('over HTTPS (behind the trusted proxy), as Django 4.0+ checks Origin and Referer', () => {
    let anon: LoginSession;
    beforeAll(async () => (anon = await anonymousCsrf(t)));

    /** A login to chat.example.org over TLS with the given headers, the token right. */
    const tlsLogin = (headers: Record<string, string>, token: string | null = anon.csrf) => {
      let req = http()
        .post('/auth/login')
        .set('Host', 'chat.example.org')
        .set('X-Forwarded-Proto', 'https')
        .set('Cookie', anon.cookie);
      if (token !== null) req = req.set('X-CSRFToken', token);
      for (const [name, value] of Object.entries(headers)) req = req.set(name, value);
      return req.send({ username: 'boss', password: 'boss-pass' });
    };
    const refusedWith = async (headers: Record<string, string>, reason: string) => {
      const res = await tlsLogin(headers);
      expect({ status: res.status, message: res.body.message }).toEqual({
        status: 403,
        message: `CSRF Failed: ${reason}`,
      });
    };

    it("accepts the site's own Origin, and sets the session cookie Secure", async () => {
      const res = await tlsLogin({ Origin: 'https://chat.example.org' });
      expect(res.status).toBe(200);
      expect(setCookie(res, 'chat_session')).toMatch(/; Secure; SameSite=Strict$/);
      expect(setCookie(res, 'chat_csrf')).toMatch(/; Secure; SameSite=Lax$/);
    });

    it('accepts an Origin in CSRF_TRUSTED_ORIGINS, exact or under a *. entry', async () => {
      expect((await tlsLogin({ Origin: 'https://www.example.org' })).status).toBe(200);
      expect((await tlsLogin({ Origin: 'https://shop.partner.test' })).status).toBe(200);
    });

    it("refuses any other Origin with Django's reason, before looking at the token", async () => {
      await refusedWith(
        { Origin: 'https://evil.example' },
        'Origin checking failed - https://evil.example does not match any trusted origins.',
      );
      await refusedWith(
        { Origin: 'http://chat.example.org' },
        'Origin checking failed - http://chat.example.org does not match any trusted origins.',
      );
      await refusedWith(
        { Origin: 'https://api.example.org', Referer: 'https://chat.example.org/' },
        'Origin checking failed - https://api.example.org does not match any trusted origins.',
      );
      const noToken = await tlsLogin({ Origin: 'https://evil.example' }, null);
      expect(noToken.body.message).toMatch(/^CSRF Failed: Origin checking failed/);
    });

    it('without an Origin, wants a Referer on this host or a trusted one', async () => {
      await refusedWith({}, 'Referer checking failed - no Referer.');
      expect((await tlsLogin({ Referer: 'https://chat.example.org/admin/' })).status).toBe(200);
      expect((await tlsLogin({ Referer: 'https://www.example.org/chat/?room=lobby' })).status).toBe(200);
      expect((await tlsLogin({ Referer: 'https://a.b.partner.test/' })).status).toBe(200);
      await refusedWith(
        { Referer: 'https://evil.example/page' },
        'Referer checking failed - https://evil.example/page does not match any trusted origins.',
      );
      await refusedWith(
        { Referer: 'http://chat.example.org/' },
        'Referer checking failed - Referer is insecure while host is secure.',
      );
    });

    it('checks logged-in unsafe requests too (logout)', async () => {
      const s = await login(t, 'boss', 'boss-pass');
      const logout = (origin: string) =>
        http()
          .post('/auth/logout')
          .set('Host', 'chat.example.org')
          .set('X-Forwarded-Proto', 'https')
          .set('Origin', origin)
          .set('Cookie', s.cookie)
          .set('X-CSRFToken', s.csrf);
      expect((await logout('https://evil.example')).status).toBe(403);
      await http().get('/auth/me').set('Cookie', s.cookie).expect(200);
      expect((await logout('https://chat.example.org')).status).toBe(204);
    });

    it('over plain HTTP the Origin is not checked (as Django 3.2; the token check stands alone)', async () => {
      const res = await http()
        .post('/auth/login')
        .set('Origin', 'https://evil.example')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username: 'boss', password: 'boss-pass' });
      expect(res.status).toBe(200);
      expect(setCookie(res, 'chat_session')).not.toMatch(/Secure/);
    });
  });

  describe('the WebSocket Origin check', () => {
    const upgrade = () => `ws://127.0.0.1:${t.port}/chat/lobby/`;
    const headers = (origin: string) => ({ Host: 'chat.example.org', Origin: origin });

    it('accepts pages on ALLOWED_HOSTS and on CSRF_TRUSTED_ORIGINS', async () => {
      for (const origin of [
        'https://chat.example.org',
        'https://www.example.org',
        'https://x.partner.test',
      ]) {
        const ws = await openWs(upgrade(), { headers: headers(origin) });
        expect(await ws.next()).toBe('Bienvenue Anonymous troll !');
        await ws.close();
      }
    });

    it('refuses other origins with 403', async () => {
      for (const origin of [
        'https://evil.example',
        'http://x.partner.test',
        'https://*.partner.test',
        'null',
      ])
        expect((await refusedUpgrade(upgrade(), headers(origin))).statusCode).toBe(403);
    });
  });
});

describe('SESSION_COOKIE_SECURE=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ TRUST_PROXY: 'true', SESSION_COOKIE_SECURE: 'false' });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
  });
  afterAll(async () => t?.close());

  it('leaves Secure off even over TLS; SameSite=Lax and host-only by default', async () => {
    const anon = await anonymousCsrf(t);
    const res = await request(t.baseUrl)
      .post('/auth/login')
      .set('X-Forwarded-Proto', 'https')
      .set('Origin', `https://127.0.0.1:${t.port}`)
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username: 'joe', password: 'joe-pass' })
      .expect(200);
    const session = setCookie(res, 'sessionid')!;
    expect(session).toMatch(/; HttpOnly; SameSite=Lax$/);
    expect(session).not.toMatch(/Secure|Domain/);
  });
});

describe('SESSION_COOKIE_SAMESITE=None', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ SESSION_COOKIE_SAMESITE: 'None' });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
  });
  afterAll(async () => t?.close());

  it('makes the session cookie Secure even over plain HTTP (browsers drop SameSite=None otherwise)', async () => {
    const anon = await anonymousCsrf(t);
    const res = await request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username: 'joe', password: 'joe-pass' })
      .expect(200);
    expect(setCookie(res, 'sessionid')).toMatch(/; HttpOnly; Secure; SameSite=None$/);
  });
});
