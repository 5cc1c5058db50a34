import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createTestDatabase, startApp, TestApp } from './support/app';
import { ROOT } from './support/entry-point';
import { manage } from './support/manage';
import { cookieValue, login } from './support/users';
import { openWs } from './support/ws';

/**
 * Issue 16's bridge, end to end: a real Django 3.2 site (test/fixtures/django/site) migrates a fresh
 * database, creates users and logs some in; live then starts on that same database with the same
 * SECRET_KEY, and each side sees the other's logins, logouts, password changes and deactivations.
 */

// Debian's python3-django and python3-psycopg2 are importable only by the system interpreter.
const PYTHON = '/usr/bin/python3';
const TOOL = join(ROOT, 'test/fixtures/django/site/bridge_tool.py');
const SECRET_KEY = 'django-bridge-e2e-secret-key-0123456789abcdef';
// Django's hasher in the fixture makes 1000-iteration hashes; live makes its own with more, as live's
// default (1,000,000) exceeds Django 3.2's (260,000). Beside Django live must not rehash a weaker hash
// at login: the new hash would end the user's Django sessions (and Django would rehash it back).
const ITERATIONS = '2000';

function djangoAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import django, psycopg2'], { stdio: 'pipe', timeout: 20_000 });
    return true;
  } catch (err) {
    const why = `${PYTHON} cannot import django and psycopg2 (python3-django, python3-psycopg2): ${String(err)}`;
    if (process.env.CI === 'true') throw new Error(`CI needs the Django bridge tools: ${why}`);
    console.warn(`[live tests] Django bridge skipped: ${why}`);
    return false;
  }
}

interface WhoAmI {
  authenticated: boolean;
  username: string | null;
  full_name: string | null;
}
interface DjangoLogin {
  status: number;
  sessionid: string | null;
  csrftoken: string | null;
  cookie_names: string[];
  user: WhoAmI;
}
interface CsrfPage {
  cookie: string;
  token: string;
}
type Command = [string, ...string[]];

interface Engine {
  name: string;
  /** Django's cookie settings, the same on both sides (Django's defaults when empty). */
  cookies: { SESSION_COOKIE_NAME?: string; CSRF_COOKIE_NAME?: string };
  /** Where Django (env for bridge_tool.py) and live (DATABASE_URL) find the one database. */
  setup(
    dir: string,
  ): Promise<{ djangoEnv: Record<string, string>; databaseUrl: string; drop(): Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'SQLite (default cookie names)',
    cookies: {},
    async setup(dir) {
      const file = join(dir, 'site.sqlite3');
      return {
        djangoEnv: { DJ_DB_ENGINE: 'sqlite', DJ_DB_NAME: file },
        databaseUrl: `sqlite:///${file}`, // dj-database-url's absolute form: sqlite:////tmp/…
        drop: async () => undefined,
      };
    },
  },
];
if (process.env.LIVE_TEST_PG === '1') {
  engines.push({
    name: 'PostgreSQL (cookies named site_session, site_csrftoken)',
    cookies: { SESSION_COOKIE_NAME: 'site_session', CSRF_COOKIE_NAME: 'site_csrftoken' },
    async setup() {
      const db = await createTestDatabase();
      return {
        djangoEnv: { DJ_DB_ENGINE: 'postgres', DJ_DB_NAME: new URL(db.url).pathname.slice(1) },
        databaseUrl: db.url,
        drop: () => db.drop(),
      };
    },
  });
} else {
  console.warn('[live tests] Django bridge on PostgreSQL skipped: PostgreSQL not reachable');
}

const describeDjango = djangoAvailable() ? describe.each(engines) : describe.skip.each(engines);

describeDjango('live beside a real Django site, on its database: $name', (engine) => {
  const SESSION = engine.cookies.SESSION_COOKIE_NAME ?? 'sessionid';
  const CSRF = engine.cookies.CSRF_COOKIE_NAME ?? 'csrftoken';
  let dir: string;
  let djangoEnv: Record<string, string>;
  let liveEnv: Record<string, string>;
  let drop: () => Promise<void>;
  let t: TestApp;
  /** What Django's migrate left, before live ever ran. */
  let schemaBefore: unknown;
  let tablesBefore: string[];
  /** Django user ids by username, and the sessions Django's login view made before live started. */
  const ids: Record<string, number> = {};
  const djangoSession: Record<string, DjangoLogin> = {};

  function django<T = unknown>(command: Command, env: Record<string, string> = djangoEnv): Promise<T> {
    return new Promise((resolve, reject) =>
      execFile(
        PYTHON,
        [TOOL, ...command],
        {
          timeout: 60_000,
          env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1', SECRET_KEY, ...env },
        },
        (err, stdout, stderr) =>
          err
            ? reject(new Error(`bridge_tool ${command.join(' ')}: ${err.message}\n${stderr}`))
            : resolve(JSON.parse(stdout) as T),
      ),
    );
  }
  /** Several commands in one Python process (each start costs a few hundred ms). */
  const djangoBatch = (commands: Command[], env?: Record<string, string>): Promise<unknown[]> =>
    django<unknown[]>(['batch', JSON.stringify(commands)], env);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'live-django-bridge-'));
    const db = await engine.setup(dir);
    djangoEnv = { ...db.djangoEnv, ...engine.cookies };
    drop = db.drop;
    liveEnv = {
      DATABASE_URL: db.databaseUrl,
      SECRET_KEY,
      PASSWORD_ITERATIONS: ITERATIONS,
      ...engine.cookies,
    };

    const users: Command[] = [
      ['create-user', 'alice', 'alice-pw', 'Alice', 'Liddell'],
      ['create-user', 'bob', 'bob-pw', 'Bob', 'Staff', '--staff'],
      ['create-user', 'carol', 'carol-pw', 'Carol', 'Changed-In-Django'],
      ['create-user', 'dave', 'dave-pw', 'Dave', 'Changed-On-Live'],
      ['create-user', 'erin', 'erin-pw', 'Erin', 'Logged-Out'],
      ['create-user', 'frank', 'frank-pw', 'Frank', 'Deactivated'],
      ['create-user', 'hank', 'hank-pw', 'Hank', 'Deleted'],
    ];
    const logins: Command[] = ['alice', 'carol', 'dave', 'erin', 'frank'].map((u) => ['login', u, `${u}-pw`]);
    const results = await djangoBatch([['migrate'], ...users, ...logins, ['schema'], ['tables']]);
    const applied = (results[0] as { applied: string[] }).applied;
    expect(applied).toEqual(
      expect.arrayContaining(['auth.0012_alter_user_first_name_max_length', 'sessions.0001_initial']),
    );
    for (const r of results.slice(1, 1 + users.length) as { id: number; username: string }[])
      ids[r.username] = r.id;
    for (const [i, r] of (results.slice(1 + users.length, -2) as DjangoLogin[]).entries()) {
      expect(r).toMatchObject({
        status: 200,
        sessionid: expect.stringMatching(/^[a-z0-9]{32}$/),
        cookie_names: [CSRF, SESSION].sort(), // Django uses the names live is given
      });
      djangoSession[logins[i][1]] = r;
    }
    [schemaBefore, tablesBefore] = results.slice(-2) as [unknown, string[]];
    expect(tablesBefore).toEqual(
      expect.arrayContaining(['auth_user', 'django_session', 'django_migrations']),
    );

    t = await startApp(liveEnv);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await drop?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const me = (sessionKey: string) =>
    request(t.baseUrl).get('/auth/me').set('Cookie', `${SESSION}=${sessionKey}`);
  /** The first frame of a new plain socket on /chat/<room>/ carrying that session cookie. */
  async function greeting(sessionKey: string, room = 'lobby'): Promise<string> {
    const ws = await openWs(`ws://127.0.0.1:${t.port}/chat/${room}/`, {
      headers: { Cookie: `${SESSION}=${sessionKey}` },
    });
    try {
      return await ws.next();
    } finally {
      await ws.close();
    }
  }
  async function liveLogin(
    username: string,
    password: string,
  ): Promise<{ key: string; cookie: string; csrf: string }> {
    const session = await login(t, username, password);
    return { ...session, key: cookieValue(session.cookie.split('; '), SESSION) as string };
  }

  it("Django's sessionid opens a live socket greeted with the user's full name, and /auth/me answers the user", async () => {
    const key = djangoSession.alice.sessionid!;
    expect(await greeting(key)).toBe('Bienvenue Alice Liddell !');
    expect((await me(key).expect(200)).body).toMatchObject({
      id: ids.alice,
      username: 'alice',
      fullName: 'Alice Liddell',
      isStaff: false,
    });
    expect(await greeting('0'.repeat(32))).toBe('Bienvenue Anonymous troll !');
  });

  it("a login made on live is seen by Django's request.user, and Django's own session of that user lives on", async () => {
    const live = await liveLogin('alice', 'alice-pw');
    const [onLive, onDjango] = (await djangoBatch([
      ['whoami', live.key],
      ['whoami', djangoSession.alice.sessionid!],
    ])) as WhoAmI[];
    expect(onLive).toEqual({ authenticated: true, username: 'alice', full_name: 'Alice Liddell' });
    // live's login did not rehash alice's 1000-iteration hash, which would have ended this session.
    expect(onDjango).toEqual(onLive);
    await me(djangoSession.alice.sessionid!).expect(200);
    await me(live.key).expect(200);
  });

  it("a password changed in Django makes live's sessions of that user anonymous, Django-made and live-made", async () => {
    const djangoKey = djangoSession.carol.sessionid!;
    const live = await liveLogin('carol', 'carol-pw');
    expect(await greeting(djangoKey)).toBe('Bienvenue Carol Changed-In-Django !');
    await me(live.key).expect(200);

    await django(['set-password', 'carol', 'carol-new-pw']);

    expect(await greeting(djangoKey)).toBe('Bienvenue Anonymous troll !');
    expect(await greeting(live.key)).toBe('Bienvenue Anonymous troll !');
    await me(djangoKey).expect(401);
    await me(live.key).expect(401);
    await liveLogin('carol', 'carol-new-pw'); // throws unless 200
  });

  it('a password changed on live (PATCH /admin/users/:id) logs the Django session out', async () => {
    const djangoKey = djangoSession.dave.sessionid!;
    await me(djangoKey).expect(200);
    const staff = await liveLogin('bob', 'bob-pw');
    await request(t.baseUrl)
      .patch(`/admin/users/${ids.dave}`)
      .set('Cookie', staff.cookie)
      .set('X-CSRFToken', staff.csrf)
      .send({ password: 'dave-new-pw' })
      .expect(200);

    const [whoami, oldPassword, newPassword] = (await djangoBatch([
      ['whoami', djangoKey],
      ['login', 'dave', 'dave-pw'],
      ['login', 'dave', 'dave-new-pw'],
    ])) as [WhoAmI, DjangoLogin, DjangoLogin];
    expect(whoami).toEqual({ authenticated: false, username: null, full_name: null });
    expect(oldPassword.status).toBe(401);
    expect(newPassword).toMatchObject({ status: 200, user: { authenticated: true, username: 'dave' } });
    await me(djangoKey).expect(401);
    await me(newPassword.sessionid!).expect(200);
  });

  it("a logout through Django's view ends the session on live, whichever side made it", async () => {
    const djangoKey = djangoSession.erin.sessionid!;
    const live = await liveLogin('erin', 'erin-pw');
    await me(djangoKey).expect(200);
    expect(await greeting(live.key)).toBe('Bienvenue Erin Logged-Out !');

    const outcomes = (await djangoBatch([
      ['logout', djangoKey],
      ['logout', live.key],
    ])) as { status: number; session_exists: boolean }[];
    expect(outcomes).toEqual([
      { status: 200, session_exists: false },
      { status: 200, session_exists: false },
    ]);

    await me(djangoKey).expect(401);
    await me(live.key).expect(401);
    expect(await greeting(live.key)).toBe('Bienvenue Anonymous troll !');
  });

  it('a user Django makes inactive is anonymous on live and cannot log in there', async () => {
    const djangoKey = djangoSession.frank.sessionid!;
    const live = await liveLogin('frank', 'frank-pw');
    await me(djangoKey).expect(200);

    await django(['set-active', 'frank', 'false']);

    await me(djangoKey).expect(401);
    await me(live.key).expect(401);
    expect(await greeting(djangoKey)).toBe('Bienvenue Anonymous troll !');
    const csrf = await request(t.baseUrl).get('/auth/csrf').expect(200);
    const token = (csrf.body as { csrfToken: string }).csrfToken;
    await request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', `${CSRF}=${token}`)
      .set('X-CSRFToken', token)
      .send({ username: 'frank', password: 'frank-pw' })
      .expect(401);
  });

  it("a POST from a page Django served (its csrftoken cookie, the page's masked token) is accepted; a forged token is 403", async () => {
    const [page, otherPage] = (await djangoBatch([['csrf-page'], ['csrf-page']])) as CsrfPage[];
    expect(page.cookie).toMatch(/^[a-zA-Z0-9]{64}$/); // Django 3.2 keeps a masked token in its cookie
    expect(page.token).toMatch(/^[a-zA-Z0-9]{64}$/);
    expect(page.token).not.toBe(page.cookie);
    const post = (path: string, cookie: string, token: string) =>
      request(t.baseUrl)
        .post(path)
        .set('Cookie', cookie)
        .set('X-CSRFToken', token)
        .send(path === '/auth/login' ? { username: 'alice', password: 'alice-pw' } : {});

    const accepted = await post('/auth/login', `${CSRF}=${page.cookie}`, page.token);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ username: 'alice' });
    const forged = await post('/auth/login', `${CSRF}=${page.cookie}`, otherPage.token);
    expect(forged.status).toBe(403);
    expect(forged.body.message).toBe('CSRF Failed: CSRF token incorrect.');
    const flipped = page.token.slice(0, -1) + (page.token.endsWith('a') ? 'b' : 'a');
    expect((await post('/auth/login', `${CSRF}=${page.cookie}`, flipped)).status).toBe(403);

    // Logging out on live from a Django page: Django's session cookie, its csrftoken cookie, and the
    // page's token (a forged one first, which must leave the session alone).
    const djangoLogin = await django<DjangoLogin>(['login', 'alice', 'alice-pw']);
    const cookies = `${SESSION}=${djangoLogin.sessionid}; ${CSRF}=${djangoLogin.csrftoken}`;
    expect((await post('/auth/logout', cookies, otherPage.token)).status).toBe(403);
    await me(djangoLogin.sessionid!).expect(200);
    expect((await post('/auth/logout', cookies, djangoLogin.csrftoken!)).status).toBe(204);
    await me(djangoLogin.sessionid!).expect(401);
  });

  it("a user Django deletes, who has live sessions and chat messages, is deleted (live's tables do not block Django)", async () => {
    const live = await liveLogin('hank', 'hank-pw');
    const ws = await openWs(`ws://127.0.0.1:${t.port}/chat/bridge/`, {
      headers: { Cookie: `${SESSION}=${live.key}` },
    });
    expect(await ws.next()).toBe('Bienvenue Hank Deleted !');
    ws.send('hello from hank');
    expect(await ws.next()).toBe('<Hank Deleted> hello from hank');
    await ws.close();
    // The message reaches the database (batched every CHAT_HISTORY_FLUSH_MS) before Django deletes hank.
    const deadline = Date.now() + 5000;
    for (;;) {
      const res = await request(t.baseUrl).get('/chat/rooms/bridge/messages').expect(200);
      if ((res.body as { messages: unknown[] }).messages.length > 0) break;
      if (Date.now() > deadline) throw new Error('the chat message was never stored');
      await new Promise((r) => setTimeout(r, 20));
    }

    const deleted = await django<{ deleted: Record<string, number> }>(['delete-user', 'hank']);
    expect(deleted.deleted['auth.User']).toBe(1);
    await me(live.key).expect(401);
  });

  it("import-django-users brings another Django site's users into this one: both Django and live log them in", async () => {
    const otherEnv = { DJ_DB_ENGINE: 'sqlite', DJ_DB_NAME: join(dir, 'other-site.sqlite3') };
    const dump = join(dir, 'other-users.json');
    await djangoBatch(
      [['migrate'], ['create-user', 'gina', 'gina-pw', 'Gina', 'Imported'], ['dumpdata', dump]],
      otherEnv,
    );
    const imported = await manage(['import-django-users', dump], { ...liveEnv, DATA_DIR: t.dataDir });
    expect(imported).toMatchObject({ code: 0 });
    expect(imported.stdout).toContain('1 created, 0 updated');

    const onDjango = await django<DjangoLogin>(['login', 'gina', 'gina-pw']);
    expect(onDjango).toMatchObject({ status: 200, user: { full_name: 'Gina Imported' } });
    await me(onDjango.sessionid!).expect(200);
    expect((await liveLogin('gina', 'gina-pw')).key).toMatch(/^[a-z0-9]{32}$/);
  });

  // Last: after everything above ran on live, then again after live restarts on the same database.
  it("Django's tables are exactly what migrate left, and every table live made is named live_…", async () => {
    const check = async () => {
      const [schema, tables] = (await djangoBatch([['schema'], ['tables']])) as [unknown, string[]];
      expect(schema).toEqual(schemaBefore);
      const created = tables.filter((name) => !tablesBefore.includes(name));
      expect(tablesBefore.filter((name) => !tables.includes(name))).toEqual([]);
      expect(created).toContain('live_chat_message'); // live made its tables here, in this database
      for (const name of created) expect(name).toMatch(/^live_/);
      return tables;
    };
    const afterFirstRun = await check();

    const first = t;
    t = undefined as unknown as TestApp; // afterAll closes only a running app
    await first.close();
    t = await startApp(liveEnv);
    expect(await check()).toEqual(afterFirstRun);
    expect(await greeting(djangoSession.alice.sessionid!)).toBe('Bienvenue Alice Liddell !');
  }, 60_000);
});
