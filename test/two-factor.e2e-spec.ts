import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { SessionStore } from '../src/auth/session.store';
import { User } from '../src/auth/user.entity';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { startInstance } from './support/instances';
import { manage } from './support/manage';
import {
  decodeQr,
  oathtoolCode,
  pngOfDataUrl,
  twoFactorToolsAvailable,
  wrongCode,
} from './support/two-factor';
import { cookieValue, createUser } from './support/users';

/**
 * Staff two-factor end to end: every code comes from Debian's oathtool and every QR code is read by
 * zbarimg, never from the app's own TOTP code.
 */
const describeTools = twoFactorToolsAvailable() ? describe : describe.skip;

type Agent = InstanceType<typeof TestAgent>;

/** The CSRF token for the agent's CSRF cookie (GET /auth/csrf sets one if it has none). */
async function csrf(agent: Agent): Promise<string> {
  return (await agent.get('/auth/csrf').expect(200)).body.csrfToken as string;
}

/** A CSRF-protected POST as the console sends it; with `status`, that answer is expected. */
async function post(agent: Agent, path: string, body: object = {}, status?: number) {
  // The token first: the agent attaches its cookies when the request is made.
  const token = await csrf(agent);
  const res = await agent.post(path).set('X-CSRFToken', token).send(body);
  if (status !== undefined && res.status !== status)
    throw new Error(`POST ${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** A browser-like client logged in with a password (and a code when given). */
async function loggedIn(t: TestApp, username: string, password: string, code?: string): Promise<Agent> {
  const agent = request.agent(t.baseUrl);
  await post(agent, '/auth/login', { username, password, ...(code ? { code } : {}) }, 200);
  return agent;
}

/**
 * Enrols and confirms `agent`'s account with oathtool's code for now + `offsetSeconds` (an earlier
 * step leaves now's and the next one for the test); returns the secret, the code used and the
 * recovery codes.
 */
async function enrol(
  agent: Agent,
  offsetSeconds = 0,
): Promise<{ secret: string; used: string; recoveryCodes: string[] }> {
  const enrolment = (await post(agent, '/auth/2fa/enrol', {}, 200)).body as { secret: string };
  // The previous step's code stops working when the next step begins: not right before that.
  if (offsetSeconds < 0) await awayFromStepEnd();
  const used = oathtoolCode(enrolment.secret, offsetSeconds);
  const confirmed = await post(agent, '/auth/2fa/confirm', { code: used }, 200);
  return { secret: enrolment.secret, used, recoveryCodes: confirmed.body.recoveryCodes as string[] };
}

/** Waits, when a 30-second step ends within 3 s, for the next one to begin. */
async function awayFromStepEnd(): Promise<void> {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 3000) await new Promise((resolve) => setTimeout(resolve, left + 100));
}

describeTools.each(databaseVariants())('two-factor for staff on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    // Wrong codes and passwords from one address are many here; the throttle has its own suite below.
    t = await startApp({ ...db.env, LOGIN_MAX_FAILURES: '1000', LOGIN_MAX_FAILURES_PER_ADDRESS: '100000' });
    for (const username of ['ada', 'bob', 'cy', 'dee', 'eve'])
      await createUser(t, { username, password: `${username}-pass`, isStaff: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  it('enrols with a QR code and a secret oathtool agrees with; the recovery codes are shown once, kept hashed', async () => {
    const ada = await loggedIn(t, 'ada', 'ada-pass');
    expect((await ada.get('/auth/2fa').expect(200)).body).toMatchObject({
      enabled: false,
      pending: false,
      policy: 'optional',
      mustEnrol: false,
    });
    const enrolment = (await post(ada, '/auth/2fa/enrol', {}, 200)).body as {
      secret: string;
      otpauthUri: string;
      qrCode: string;
    };
    expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    expect(enrolment.otpauthUri).toBe(
      `otpauth://totp/live:ada?secret=${enrolment.secret}&issuer=live&algorithm=SHA1&digits=6&period=30`,
    );
    expect(await decodeQr(pngOfDataUrl(enrolment.qrCode))).toBe(enrolment.otpauthUri);
    expect((await ada.get('/auth/2fa').expect(200)).body).toMatchObject({ enabled: false, pending: true });
    // Not on until confirmed: the password alone still logs in.
    await loggedIn(t, 'ada', 'ada-pass');

    const wrong = await post(ada, '/auth/2fa/confirm', { code: wrongCode(enrolment.secret) }, 400);
    expect(wrong.body.message).toMatch(/not right/);
    const confirmed = await post(ada, '/auth/2fa/confirm', { code: oathtoolCode(enrolment.secret) }, 200);
    const codes = confirmed.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    // Confirming gave the session a new key that records the device: /admin is open to it.
    expect(cookieValue(confirmed.headers['set-cookie'], t.config.sessionCookieName)).toMatch(
      /^[a-z0-9]{32}$/,
    );
    expect((await ada.get('/auth/2fa').expect(200)).body).toMatchObject({
      enabled: true,
      pending: false,
      sessionVerified: true,
      recoveryCodesLeft: 10,
    });
    await ada.get('/admin/users').expect(200);
    await post(ada, '/auth/2fa/enrol', {}, 409);
    await post(ada, '/auth/2fa/confirm', { code: oathtoolCode(enrolment.secret, 30) }, 409);

    // At rest: the secret sealed (neither base32 nor hex nor base64 of it), the codes as keyed hashes.
    const ds = t.app.get(DataSource);
    const [device] = (await ds.query(
      `SELECT d.secret FROM live_totp_device d JOIN auth_user u ON u.id = d.user_id WHERE u.username = 'ada'`,
    )) as { secret: string }[];
    const raw = Buffer.from(enrolment.secret.replace(/(.{8})/g, '$1'), 'ascii');
    expect(device.secret).toMatch(/^v1:[\w-]{16}:[\w-]+:[\w-]{22}$/);
    expect(device.secret).not.toContain(enrolment.secret);
    expect(device.secret.toUpperCase()).not.toContain(enrolment.secret.slice(0, 12));
    expect(raw.length).toBe(32);
    const hashes = (await ds.query(
      `SELECT r.code_hash FROM live_recovery_code r JOIN auth_user u ON u.id = r.user_id WHERE u.username = 'ada'`,
    )) as { code_hash: string }[];
    expect(hashes).toHaveLength(10);
    for (const { code_hash } of hashes) {
      expect(code_hash).toMatch(/^[0-9a-f]{64}$/);
      for (const code of codes) expect(code_hash).not.toContain(code.replace('-', ''));
    }
  });

  it('asks for the code after the password, refuses wrong and replayed codes, and logs in with the next one', async () => {
    const bob = await loggedIn(t, 'bob', 'bob-pass');
    const { secret, used } = await enrol(bob); // uses the current step
    const agent = request.agent(t.baseUrl);

    const first = await post(agent, '/auth/login', { username: 'bob', password: 'bob-pass' }, 401);
    expect(first.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Enter the 6-digit code from your authenticator app (or one of your recovery codes)',
      otp_required: true,
    });
    const setCookies = ([] as string[]).concat(first.headers['set-cookie'] ?? []);
    const pending = setCookies.find((c) => c.startsWith('live_otp_pending=')) as string;
    expect(pending).toContain('Path=/auth/login');
    expect(pending).toContain('HttpOnly');
    expect(pending).toContain('SameSite=Strict');
    expect(pending).toMatch(/Max-Age=300/);
    expect(cookieValue(setCookies, t.config.sessionCookieName)).toBeUndefined();
    await agent.get('/auth/me').expect(401);

    // A wrong code and the code already used to confirm (same step): refused, the login stays pending.
    for (const code of [wrongCode(secret), used]) {
      const refused = await post(agent, '/auth/login', { code }, 401);
      expect(refused.body).toMatchObject({ otp_required: true, message: expect.stringMatching(/not right/) });
    }
    const next = oathtoolCode(secret, 30);
    const done = await post(agent, '/auth/login', { code: next }, 200);
    expect(done.body).toMatchObject({ username: 'bob', isStaff: true });
    expect(
      ([] as string[])
        .concat(done.headers['set-cookie'] ?? [])
        .find((c) => c.startsWith('live_otp_pending=')),
    ).toMatch(/Expires=Thu, 01 Jan 1970/);
    await agent.get('/admin/users').expect(200);

    // The same code again, in one call with the password: refused (its step is used).
    const replay = await post(
      request.agent(t.baseUrl),
      '/auth/login',
      {
        username: 'bob',
        password: 'bob-pass',
        code: next,
      },
      401,
    );
    expect(replay.body.otp_required).toBe(true);
    // A code from a step before the last one used is refused too.
    await post(
      request.agent(t.baseUrl),
      '/auth/login',
      {
        username: 'bob',
        password: 'bob-pass',
        code: oathtoolCode(secret, -30),
      },
      401,
    );
  });

  it('refuses the code step without its pending login, with a forged one, or after a password change', async () => {
    const cy = await loggedIn(t, 'cy', 'cy-pass');
    const { secret } = await enrol(cy, -30);
    const none = await post(request.agent(t.baseUrl), '/auth/login', { code: oathtoolCode(secret) }, 401);
    expect(none.body.message).toBe('The login has expired: enter your username and password again.');
    expect(none.body.otp_required).toBeUndefined();

    const forged = request.agent(t.baseUrl);
    const token = await csrf(forged);
    await forged
      .post('/auth/login')
      .set('X-CSRFToken', token)
      .set('Cookie', `csrftoken=${token}; live_otp_pending=eyJ1aWQiOjF9:1abc:bad-signature`)
      .send({ code: oathtoolCode(secret) })
      .expect(401);

    // Hostile pending-login cookies: junk, huge, percent-encoded NUL, a session's signed data (another
    // salt), a signature made with another key. Each is a lapsed login, never a 5xx.
    const session = await t.app.get(SessionStore).create(await userNamed(t, 'cy'));
    const [row] = (await t.app
      .get(DataSource)
      .query(`SELECT session_data FROM django_session WHERE session_key = '${session.sessionKey}'`)) as {
      session_data: string;
    }[];
    for (const value of ['junk', 'x'.repeat(4000), '%00', row.session_data, 'e30:1abcde:' + 'A'.repeat(43)]) {
      const hostile = request(t.baseUrl);
      const csrfToken = 'C'.repeat(32);
      const res = await hostile
        .post('/auth/login')
        .set('Cookie', `csrftoken=${csrfToken}; live_otp_pending=${value}`)
        .set('X-CSRFToken', csrfToken)
        .send({ code: oathtoolCode(secret) });
      expect([value.slice(0, 20), res.status, res.body.message]).toEqual([
        value.slice(0, 20),
        401,
        'The login has expired: enter your username and password again.',
      ]);
    }

    const agent = request.agent(t.baseUrl);
    await post(agent, '/auth/login', { username: 'cy', password: 'cy-pass' }, 401);
    await t.app
      .get(DataSource)
      .query(`UPDATE auth_user SET password = 'pbkdf2_sha256$1000$x$y' WHERE username = 'cy'`);
    const lapsed = await post(agent, '/auth/login', { code: oathtoolCode(secret) }, 401);
    expect(lapsed.body.message).toMatch(/expired/);
  });

  it('takes each recovery code once, in any case and with or without its dash', async () => {
    const dee = await loggedIn(t, 'dee', 'dee-pass');
    const { recoveryCodes } = await enrol(dee);
    const [first, second] = recoveryCodes;
    await loggedIn(t, 'dee', 'dee-pass', first);
    const again = await post(
      request.agent(t.baseUrl),
      '/auth/login',
      {
        username: 'dee',
        password: 'dee-pass',
        code: first,
      },
      401,
    );
    expect(again.body.otp_required).toBe(true);
    const agent = await loggedIn(t, 'dee', 'dee-pass', second.replace('-', '').toUpperCase());
    expect((await agent.get('/auth/2fa').expect(200)).body).toMatchObject({
      recoveryCodesLeft: 8,
      sessionVerified: true,
    });
    await agent.get('/admin/users').expect(200);
  });

  it('a session that did not pass the code (a Django login, say) is refused /admin until it verifies', async () => {
    const eve = await loggedIn(t, 'eve', 'eve-pass');
    const { secret } = await enrol(eve, -30);
    // A session as a password-only login elsewhere makes it: signed, valid, no device in it.
    const user = await userNamed(t, 'eve');
    const session = await t.app.get(SessionStore).create(user);
    // Plain requests (no cookie jar): each carries exactly the cookies set on it.
    const plain = request(t.baseUrl);
    const cookie = `${t.config.sessionCookieName}=${session.sessionKey}`;
    const refused = await plain.get('/admin/users').set('Cookie', cookie).expect(403);
    expect(refused.body).toMatchObject({ statusCode: 403, otp_required: true });
    expect(refused.body.message).toMatch(/has not passed two-factor/);
    await plain.get('/auth/me').set('Cookie', cookie).expect(200); // the account itself works
    const status = await plain.get('/auth/2fa').set('Cookie', cookie).expect(200);
    expect(status.body).toMatchObject({ enabled: true, sessionVerified: false });

    const token = 'Z'.repeat(32);
    const verified = await plain
      .post('/auth/2fa/verify')
      .set('Cookie', `${cookie}; csrftoken=${token}`)
      .set('X-CSRFToken', token)
      .send({ code: oathtoolCode(secret) })
      .expect(204);
    const fresh = cookieValue(verified.headers['set-cookie'], t.config.sessionCookieName) as string;
    expect(fresh).not.toBe(session.sessionKey);
    await plain.get('/admin/users').set('Cookie', `${t.config.sessionCookieName}=${fresh}`).expect(200);
    await plain.get('/auth/me').set('Cookie', cookie).expect(401); // the old key is gone
  });

  it('turns off with a code, not without', async () => {
    await createUser(t, { username: 'fay', password: 'fay-pass', isStaff: true });
    const fay = await loggedIn(t, 'fay', 'fay-pass');
    const { secret, recoveryCodes } = await enrol(fay, -30);
    await post(fay, '/auth/2fa/disable', { code: wrongCode(secret) }, 400);
    await post(fay, '/auth/2fa/disable', { code: 'abcde-fghjk' }, 400);
    await post(fay, '/auth/2fa/disable', {}, 400);
    await post(fay, '/auth/2fa/disable', { code: oathtoolCode(secret) }, 204);
    expect((await fay.get('/auth/2fa').expect(200)).body).toMatchObject({ enabled: false, pending: false });
    await loggedIn(t, 'fay', 'fay-pass');
    await post(fay, '/auth/2fa/disable', { code: recoveryCodes[0] }, 409);
    // Set up again, turned off with a recovery code this time.
    const again = await enrol(fay, 30);
    await post(fay, '/auth/2fa/disable', { code: recoveryCodes[1] }, 400); // the old set is gone
    await post(fay, '/auth/2fa/disable', { code: again.recoveryCodes[0] }, 204);
  });

  it('is for staff: others cannot set it up', async () => {
    const joe = await loggedIn(t, 'joe', 'joe-pass');
    expect((await joe.get('/auth/2fa').expect(200)).body).toMatchObject({
      enabled: false,
      policy: 'optional',
    });
    const refused = await post(joe, '/auth/2fa/enrol', {}, 403);
    expect(refused.body.message).toBe('Two-factor authentication is for staff accounts');
    await request(t.baseUrl).get('/auth/2fa').expect(401);
  });

  it('manage reset-2fa turns it off for a lost phone', async () => {
    const env = { DATA_DIR: t.dataDir, ...(variant.name === 'sqlite' ? {} : { DATABASE_URL: dbUrl(t) }) };
    const reset = await manage(['reset-2fa', 'dee'], env);
    expect(reset).toMatchObject({ code: 0 });
    expect(reset.stdout).toContain('Two-factor authentication turned off for user "dee"');
    await loggedIn(t, 'dee', 'dee-pass');
    const again = await manage(['reset-2fa', 'dee'], env);
    expect(again.stdout).toContain('had no two-factor authentication');
    const unknown = await manage(['reset-2fa', 'nobody'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no user named "nobody"');
    expect((await manage(['reset-2fa'], env)).code).toBe(2);
  }, 60_000);
});

describeTools('STAFF_2FA=required', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      STAFF_2FA: 'required',
      LOGIN_MAX_FAILURES: '1000',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
    });
    await createUser(t, { username: 'root', password: 'root-pass', isStaff: true, isSuperuser: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
  });
  afterAll(() => t?.close());

  it('gives staff without a device a session that can only enrol: every /admin endpoint is 403 otp_required', async () => {
    const root = await loggedIn(t, 'root', 'root-pass');
    expect((await root.get('/auth/2fa').expect(200)).body).toMatchObject({
      policy: 'required',
      mustEnrol: true,
      enabled: false,
    });
    await root.get('/auth/me').expect(200);
    // Every /admin route the API documents, whatever its method: the staff guard runs before the body.
    const doc = (await request(t.baseUrl).get('/api/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const token = await csrf(root);
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/admin/') && !path.startsWith('/admin/assets'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => [m.toUpperCase(), path] as const));
    expect(routes.length).toBeGreaterThan(10);
    for (const [method, path] of routes) {
      const url = path.replace(/\{[^}]+\}/g, '1');
      const res = await root[method.toLowerCase() as 'get'](url).set('X-CSRFToken', token).send({});
      expect([method, path, res.status, res.body.otp_required]).toEqual([method, path, 403, true]);
      expect(res.body.message).toMatch(/^Staff must set up two-factor authentication first/);
    }
    // The console page still opens (to enrol in it); its data does not.
    await root.get('/admin/').expect(200);

    const { secret } = await enrol(root);
    await root.get('/admin/users').expect(200);
    // From now on the login asks for the code.
    await post(request.agent(t.baseUrl), '/auth/login', { username: 'root', password: 'root-pass' }, 401);
    await loggedIn(t, 'root', 'root-pass', oathtoolCode(secret, 30));
  });

  it('leaves non-staff alone', async () => {
    const joe = await loggedIn(t, 'joe', 'joe-pass');
    expect((await joe.get('/auth/2fa').expect(200)).body).toMatchObject({
      policy: 'optional',
      mustEnrol: false,
    });
    await joe.get('/admin/users').expect(403);
  });
});

describeTools('two-factor codes are rate-limited like passwords', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ LOGIN_MAX_FAILURES: '5' });
    await createUser(t, { username: 'kim', password: 'kim-pass', isStaff: true });
  });
  afterAll(() => t?.close());

  it('answers 429 after LOGIN_MAX_FAILURES wrong codes, even to the right code; a right password does not reset it', async () => {
    const kim = await loggedIn(t, 'kim', 'kim-pass');
    const { secret } = await enrol(kim, -30);
    const agent = request.agent(t.baseUrl);
    await post(agent, '/auth/login', { username: 'kim', password: 'kim-pass' }, 401);
    for (let i = 0; i < 4; i++) await post(agent, '/auth/login', { code: wrongCode(secret) }, 401);
    // Concurrent guesses cannot outrun the count: of these, at most one more is checked.
    const burst = await Promise.all(
      Array.from(
        { length: 6 },
        async () => (await post(agent, '/auth/login', { code: wrongCode(secret) })).status,
      ),
    );
    expect(burst.filter((s) => s === 401).length).toBeLessThanOrEqual(1);
    expect(burst.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    const blocked = await post(agent, '/auth/login', { code: oathtoolCode(secret) }, 429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.body.message).toMatch(/Too many/);
    // Step-up and turning off are counted alike.
    await post(kim, '/auth/2fa/verify', { code: oathtoolCode(secret) }, 429);
    // The password is right again, the code count stays.
    const again = request.agent(t.baseUrl);
    await post(
      again,
      '/auth/login',
      {
        username: 'kim',
        password: 'kim-pass',
        code: oathtoolCode(secret),
      },
      429,
    );
  });
});

describeTools('two-factor across a SECRET_KEY rotation, in a real process', () => {
  const OLD = 'old-secret-key-for-two-factor-0123456789';
  const NEW = 'new-secret-key-for-two-factor-9876543210';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'live-2fa-rotation-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads secrets and recovery codes sealed under a fallback key, seals them anew, and never logs them', async () => {
    const env = { DATABASE_URL: `sqlite:${join(dir, 'db.sqlite3')}`, LOG_LEVEL: 'debug' };
    const created = await manage(['createsuperuser', '--username', 'ops', '--email', 'ops@example.org'], {
      ...env,
      DATA_DIR: dir,
      SECRET_KEY: OLD,
      LIVE_PASSWORD: 'ops-pass-long',
      PASSWORD_ITERATIONS: '1000',
    });
    expect(created.code).toBe(0);
    const before = await startInstance('2fa-old', { ...env, SECRET_KEY: OLD });
    let secret = '';
    let recoveryCodes: string[] = [];
    const logs: string[] = [];
    try {
      const agent = await loggedInAt(before.baseUrl, 'ops', 'ops-pass-long');
      ({ secret, recoveryCodes } = await enrol(agent, -30));
    } finally {
      logs.push(...before.lines);
      await before.stop();
    }
    const sealedBefore = await sealedSecret(dir);

    const after = await startInstance('2fa-new', { ...env, SECRET_KEY: NEW, SECRET_KEY_FALLBACKS: OLD });
    try {
      await loggedInAt(after.baseUrl, 'ops', 'ops-pass-long', oathtoolCode(secret));
      await loggedInAt(after.baseUrl, 'ops', 'ops-pass-long', recoveryCodes[0]);
    } finally {
      logs.push(...after.lines);
      await after.stop();
    }
    const sealedAfter = await sealedSecret(dir);
    expect(sealedAfter).not.toBe(sealedBefore); // sealed again under the new key at first use

    // Without the fallback: the secret still opens (it was sealed anew); the old-key recovery codes do not.
    const only = await startInstance('2fa-only-new', { ...env, SECRET_KEY: NEW });
    try {
      await loggedInAt(only.baseUrl, 'ops', 'ops-pass-long', oathtoolCode(secret, 30));
      const agent = request.agent(only.baseUrl);
      await post(
        agent,
        '/auth/login',
        {
          username: 'ops',
          password: 'ops-pass-long',
          code: recoveryCodes[1],
        },
        401,
      );
    } finally {
      logs.push(...only.lines);
      await only.stop();
    }
    expect(logs.some((l) => l.includes('"otp_enabled"'))).toBe(true);
    const text = logs.join('\n');
    expect(text).not.toContain(secret);
    for (const code of recoveryCodes) {
      expect(text).not.toContain(code);
      expect(text).not.toContain(code.replace('-', ''));
    }
  }, 180_000);
});

async function loggedInAt(
  baseUrl: string,
  username: string,
  password: string,
  code?: string,
): Promise<Agent> {
  const agent = request.agent(baseUrl);
  await post(agent, '/auth/login', { username, password, ...(code ? { code } : {}) }, 200);
  return agent;
}

async function sealedSecret(dir: string): Promise<string> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dir, 'db.sqlite3'), { readonly: true });
  try {
    return (db.prepare('SELECT secret FROM live_totp_device').get() as { secret: string }).secret;
  } finally {
    db.close();
  }
}

async function userNamed(t: TestApp, username: string): Promise<User> {
  return (await t.app.get(DataSource).getRepository(User).findOneBy({ username })) as User;
}

function dbUrl(t: TestApp): string {
  return t.config.database.type === 'postgres' ? t.config.database.url : '';
}
