import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { PasswordHasher } from '../src/auth/password-hasher';
import { Pbkdf2Pool } from '../src/auth/pbkdf2-pool';
import { DataSource } from 'typeorm';
import { newSessionKey } from '../src/auth/session.store';
import { User } from '../src/auth/user.entity';
import { UsersService } from '../src/auth/users.service';
import { ExecFileCommandRunner } from '../src/common/command-runner';
import { startApp, TestApp } from './support/app';
import { ROOT } from './support/entry-point';
import { manage } from './support/manage';
import { anonymousCsrf, createUser, login } from './support/users';
import { openWs } from './support/ws';

// Debian's python3-django is importable only by the system interpreter.
const PYTHON = '/usr/bin/python3';
const TOOL = join(ROOT, 'test/fixtures/django/django_tool.py');

function djangoAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`CI needs python3-django for ${PYTHON}: ${String(err)}`);
    console.warn(`[live tests] Django interop skipped: ${PYTHON} cannot import django`);
    return false;
  }
}

function django(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(PYTHON, [TOOL, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    ),
  );
}

const describeDjango = djangoAvailable() ? describe : describe.skip;

describeDjango('interop with real Django (password hashes, dumpdata import)', () => {
  const pool = new Pbkdf2Pool({ size: 1, commands: new ExecFileCommandRunner() });
  const hasherAt = (passwordIterations: number) => new PasswordHasher(pool, { passwordIterations });
  const hasher = hasherAt(1000);
  afterAll(() => pool.close());

  it.each([
    ['pbkdf2_sha256', undefined], // Django's own default iteration count
    ['pbkdf2_sha256', '1000'],
    ['pbkdf2_sha256', '600000'],
    ['pbkdf2_sha1', '1000'],
  ])(
    'live verifies a %s hash Django made (iterations %s)',
    async (algorithm, iterations) => {
      const password = 'pässword ✓ 123';
      const encoded = await django('hash', password, algorithm, ...(iterations ? [iterations] : []));
      expect(encoded.startsWith(`${algorithm}$`)).toBe(true);
      expect((await hasher.verify(password, encoded)).valid).toBe(true);
      expect((await hasher.verify('wrong password', encoded)).valid).toBe(false);
    },
    60_000,
  );

  it('Django accepts hashes live made, and rejects wrong passwords against them', async () => {
    for (const iterations of [1000, 600_000]) {
      const encoded = await hasherAt(iterations).hash('live-made ✓');
      expect(await django('check', 'live-made ✓', encoded)).toBe('true');
      expect(await django('check', 'live-made ✗', encoded)).toBe('false');
    }
  }, 60_000);

  describe('users dumped by Django log in to live with their old passwords', () => {
    let t: TestApp;
    let dir: string;
    let dump: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'live-django-'));
      dump = join(dir, 'users.json');
      await django('dump', join(dir, 'django.sqlite3'), dump);
      t = await startApp({ DATA_DIR: dir });
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const login = async (username: string, password: string) => {
      const anon = await anonymousCsrf(t);
      return request(t.baseUrl)
        .post('/auth/login')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username, password });
    };

    it('imports the dump (idempotently) and keeps names, flags and hashes', async () => {
      const env = { DATA_DIR: dir, PASSWORD_ITERATIONS: '1000' };
      const first = await manage(['import-django-users', dump], env);
      expect(first).toMatchObject({ code: 0 });
      expect(first.stdout).toContain('3 created, 0 updated');
      const again = await manage(['import-django-users', dump], env);
      expect(again.stdout).toContain('0 created, 3 updated');

      const users = t.app.get(UsersService);
      const alice = await users.findByUsername('alice');
      const dumped = JSON.parse(readFileSync(dump, 'utf8')) as {
        fields: { username: string; password: string };
      }[];
      expect(alice?.password).toBe(dumped.find((r) => r.fields.username === 'alice')?.fields.password);
      expect((await users.list({})).count).toBe(3);
    }, 60_000);

    it('alice and bob log in with their Django passwords; bob is staff; inactive carol cannot', async () => {
      const alice = await login('alice', 'alice-django-pw');
      expect(alice.status).toBe(200);
      expect(alice.body).toMatchObject({
        fullName: 'Alice Liddell',
        email: 'alice@example.org',
        isStaff: false,
      });
      const bob = await login('bob', 'bob-django-pw');
      expect(bob.status).toBe(200);
      expect(bob.body.isStaff).toBe(true);
      expect((await login('carol', 'carol-django-pw')).status).toBe(401);
      expect((await login('alice', 'not-her-password')).status).toBe(401);
    });
  });
});

/**
 * session_data both ways with real Django's SessionStore (django.core.signing, the same SECRET_KEY):
 * what live writes, Django reads; what Django writes, live reads; both tie it to the password hash.
 */
describeDjango('sessions signed as Django signs them', () => {
  const SECRET = 'bridge-test-secret-key-0123456789abcdef';
  const OLD_SECRET = 'the-previous-secret-key-0123456789abcdef';
  let t: TestApp;
  let db: DataSource;
  let alice: User;

  beforeAll(async () => {
    t = await startApp({ SECRET_KEY: SECRET, SECRET_KEY_FALLBACKS: OLD_SECRET });
    db = t.app.get(DataSource);
    alice = await createUser(t, {
      username: 'alice',
      password: 'alice-pw',
      firstName: 'Alice',
      lastName: 'Liddell',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const sessionData = async (key: string): Promise<string> =>
    (
      (await db.query('SELECT session_data FROM django_session WHERE session_key = ?', [key])) as {
        session_data: string;
      }[]
    )[0].session_data;
  const me = (key: string) => request(t.baseUrl).get('/auth/me').set('Cookie', `sessionid=${key}`);
  /** A session row as Django's SessionStore.save() would leave it, for `data` signed by Django. */
  const insertSession = async (data: string): Promise<string> => {
    const key = newSessionKey();
    await db.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [
      key,
      data,
      new Date(Date.now() + 3600_000).toISOString(),
    ]);
    return key;
  };
  const djangoSession = async (secret: string, passwordHash: string, userId = alice.id) =>
    django(
      'session-encode',
      secret,
      JSON.stringify({
        _auth_user_id: String(userId),
        _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
        _auth_user_hash: await django('auth-hash', secret, passwordHash),
        _language: 'fr',
      }),
    );

  it('Django reads the session live wrote at login: user id, backend and the password-bound hash', async () => {
    const session = await login(t, 'alice', 'alice-pw');
    const key = /sessionid=([a-z0-9]{32})/.exec(session.cookie)![1];
    const decoded = JSON.parse(await django('session-decode', SECRET, await sessionData(key)));
    const passwordHash = (await t.app.get(UsersService).findByUsername('alice'))!.password;
    expect(decoded).toEqual({
      _auth_user_id: String(alice.id),
      _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
      _auth_user_hash: await django('auth-hash', SECRET, passwordHash),
    });
    expect(
      JSON.parse(
        await django('session-decode', 'some-other-key-0123456789abcdef-xyz', await sessionData(key)),
      ),
    ).toEqual({});
  }, 60_000);

  it('live reads a session Django wrote, with the key or a fallback key, and opens a socket as its user', async () => {
    const passwordHash = (await t.app.get(UsersService).findByUsername('alice'))!.password;
    const key = await insertSession(await djangoSession(SECRET, passwordHash));
    expect((await me(key).expect(200)).body).toMatchObject({ username: 'alice', fullName: 'Alice Liddell' });
    const ws = await openWs(`ws://127.0.0.1:${t.port}/chat/lobby/`, {
      headers: { Cookie: `sessionid=${key}` },
    });
    expect(await ws.next()).toBe('Bienvenue Alice Liddell !');
    await ws.close();
    const signedWithOldKey = await insertSession(await djangoSession(OLD_SECRET, passwordHash));
    expect((await me(signedWithOldKey).expect(200)).body.username).toBe('alice');
  }, 60_000);

  it('a tampered, foreign-key, pre-3.1 or garbage session is anonymous, never a 5xx', async () => {
    const passwordHash = (await t.app.get(UsersService).findByUsername('alice'))!.password;
    const good = await djangoSession(SECRET, passwordHash);
    const [payload, stamp, signature] = good.split(':');
    const bad = [
      `${payload}x:${stamp}:${signature}`,
      await djangoSession('an-unknown-key-0123456789abcdef-xyzw', passwordHash),
      Buffer.from(`0123456789abcdef:${JSON.stringify({ _auth_user_id: String(alice.id) })}`).toString(
        'base64',
      ),
      '',
      '\u0000'.repeat(10),
      'a'.repeat(100_000),
    ];
    for (const data of bad) await me(await insertSession(data)).expect(401);
  }, 60_000);

  it("a password changed ends the sessions made before it, Django's and live's", async () => {
    const users = t.app.get(UsersService);
    const before = (await users.findByUsername('alice'))!.password;
    const djangoMade = await insertSession(await djangoSession(SECRET, before));
    await me(djangoMade).expect(200);
    const liveMade = /sessionid=([a-z0-9]{32})/.exec((await login(t, 'alice', 'alice-pw')).cookie)![1];
    await me(liveMade).expect(200);
    // As Django's set_password() + save() leaves the row: a new hash, nothing else touched.
    const newHash = await new PasswordHasher(pool, { passwordIterations: 1000 }).hash('changed-pw');
    await db.query('UPDATE auth_user SET password = ? WHERE id = ?', [newHash, alice.id]);
    await me(djangoMade).expect(401);
    await me(liveMade).expect(401);
    const afterChange = await insertSession(await djangoSession(SECRET, newHash));
    await me(afterChange).expect(200);
  }, 60_000);

  it('plain JSON naming a user (what the first releases wrote; the upgrade signs those) is anonymous', async () => {
    const key = newSessionKey();
    await db.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [
      key,
      JSON.stringify({ _auth_user_id: String(alice.id) }),
      new Date(Date.now() + 3600_000).toISOString(),
    ]);
    await me(key).expect(401);
  });

  const pool = new Pbkdf2Pool({ size: 1, commands: new ExecFileCommandRunner() });
  afterAll(() => pool.close());
});

describeDjango('CSRF tokens from a page Django served', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({});
    await createUser(t, { username: 'dora', password: 'dora-pw' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const loginWith = (cookie: string, token: string) =>
    request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', `csrftoken=${cookie}`)
      .set('X-CSRFToken', token)
      .send({ username: 'dora', password: 'dora-pw' });

  it("accepts Django's masked cookie with the differently masked token of its page, refuses another pair's", async () => {
    const pair = JSON.parse(await django('csrf-pair')) as { cookie: string; token: string };
    const other = JSON.parse(await django('csrf-pair')) as { cookie: string; token: string };
    expect(pair.cookie).not.toBe(pair.token); // two maskings of one secret
    expect((await loginWith(pair.cookie, pair.token)).status).toBe(200);
    expect((await loginWith(pair.cookie, pair.cookie)).status).toBe(200);
    const forged = await loginWith(pair.cookie, other.token);
    expect(forged.status).toBe(403);
    expect(forged.body.message).toBe('CSRF Failed: CSRF token incorrect.');
  }, 60_000);

  it("live's own tokens are Django-shaped: a page's masked form of live's cookie is accepted", async () => {
    const anon = await anonymousCsrf(t);
    expect(anon.csrf).toMatch(/^[a-zA-Z0-9]{32}$/);
    const masked = await django('csrf-mask', anon.csrf);
    expect(masked).toMatch(/^[a-zA-Z0-9]{64}$/);
    expect((await loginWith(anon.csrf, masked)).status).toBe(200);
  }, 60_000);
});
