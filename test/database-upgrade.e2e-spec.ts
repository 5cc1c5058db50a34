import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource, DataSourceOptions } from 'typeorm';
import { SESSION_SALT, sessionAuthHash, signObject } from '../src/auth/django-signing';
import { newSessionKey } from '../src/auth/session.store';
import { UsersService } from '../src/auth/users.service';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { runMigrations } from '../src/database/migrate';
import { migrations as previousReleaseMigrations } from './fixtures/previous-release';
import { createTestDatabase, startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { entryPoint, ROOT } from './support/entry-point';
import { DJANGO_AUTH_TABLES, tableNames, tableSchema } from './support/schema';

// Debian's python3-django is importable only by the system interpreter.
const PYTHON = '/usr/bin/python3';
const TOOL = join(ROOT, 'test/fixtures/django/django_tool.py');
const SECRET = 'upgrade-test-secret-key-0123456789-abcdefghijklmnop';

function requireDjango(): void {
  try {
    execFileSync(PYTHON, ['-c', 'import django, psycopg2'], { stdio: 'ignore', timeout: 20_000 });
  } catch (err) {
    throw new Error(`these tests need python3-django and python3-psycopg2 for ${PYTHON}: ${String(err)}`);
  }
}

function django(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(PYTHON, [TOOL, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    ),
  );
}

type Target = { type: 'sqlite'; path: string } | { type: 'postgres'; url: string };

/** A database for one test: a SQLite file in `dir`, or a fresh PostgreSQL database. */
async function newDatabase(
  engine: 'sqlite' | 'postgres',
  dir: string,
  name: string,
): Promise<{ target: Target; url: string; drop(): Promise<void> }> {
  if (engine === 'sqlite') {
    const path = join(dir, `${name}.sqlite3`);
    return { target: { type: 'sqlite', path }, url: `sqlite:${path}`, drop: async () => undefined };
  }
  const db = await createTestDatabase();
  return { target: { type: 'postgres', url: db.url }, url: db.url, drop: () => db.drop() };
}

function dataSourceOptions(target: Target): DataSourceOptions {
  return target.type === 'sqlite'
    ? buildDataSourceOptions({ type: 'sqlite', path: target.path })
    : buildDataSourceOptions({ type: 'postgres', url: target.url });
}

/** A password hash as live and Django store it (few iterations: the test needs no strength). */
function djangoHash(password: string): string {
  const salt = 'upgradesalt0123456789';
  return `pbkdf2_sha256$1000$${salt}$${pbkdf2Sync(password, salt, 1000, 32, 'sha256').toString('base64')}`;
}

requireDjango();

describe.each(databaseVariants().map((v) => v.name as 'sqlite' | 'postgres'))(
  'upgrading a database the previous release made (%s)',
  (engine) => {
    const dir = mkdtempSync(join(tmpdir(), 'live-upgrade-'));
    const drops: (() => Promise<void>)[] = [];
    let old: Awaited<ReturnType<typeof newDatabase>>;
    let t: TestApp;
    let djangoSchema: string;
    const p = (n: number) => (engine === 'postgres' ? `$${n}` : '?');
    // Raw parameters as each engine's driver takes them (TypeORM's own text form of dates on SQLite).
    const v = (values: unknown[]) =>
      engine === 'postgres'
        ? values
        : values.map((x) =>
            typeof x === 'boolean'
              ? Number(x)
              : x instanceof Date
                ? x.toISOString().replace('T', ' ').slice(0, 23)
                : x,
          );
    const keys = { signed: newSessionKey(), legacy: newSessionKey(), forged: newSessionKey() };
    const aliceHash = djangoHash('alice-old-release-pw');
    const ALICE_ID = 7;

    beforeAll(async () => {
      // What Django's migrate makes: the shape live's copies of Django's tables must have.
      const reference = await newDatabase(engine, dir, 'django');
      drops.push(reference.drop);
      await django(
        'migrate',
        engine,
        reference.target.type === 'sqlite' ? reference.target.path : new URL(reference.url).pathname.slice(1),
      );
      djangoSchema = await tableSchema(reference.target, DJANGO_AUTH_TABLES);

      // The previous release's migrations, then rows as it wrote them.
      old = await newDatabase(engine, dir, 'old');
      drops.push(old.drop);
      const ds = await new DataSource({
        ...dataSourceOptions(old.target),
        migrations: previousReleaseMigrations,
      }).initialize();
      await ds.runMigrations({ transaction: 'each' });
      const now = new Date();
      const later = new Date(Date.now() + 3600_000);
      await ds.query(
        'INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email, ' +
          `is_staff, is_active, date_joined) VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(p).join(', ')})`,
        v([
          ALICE_ID,
          aliceHash,
          null,
          false,
          'alice',
          'Alice',
          'Liddell',
          'alice@example.org',
          false,
          true,
          now,
        ]),
      );
      const insertSession = `INSERT INTO django_session (session_key, session_data, expire_date, user_id) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`;
      const signed = signObject(
        {
          _auth_user_id: String(ALICE_ID),
          _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
          _auth_user_hash: sessionAuthHash(aliceHash, SECRET),
        },
        SECRET,
        SESSION_SALT,
      );
      await ds.query(insertSession, v([keys.signed, signed, later, ALICE_ID]));
      // The first releases' plain JSON, vouched for by the user_id column.
      await ds.query(
        insertSession,
        v([keys.legacy, JSON.stringify({ _auth_user_id: String(ALICE_ID) }), later, ALICE_ID]),
      );
      // Plain JSON naming someone else than its row's user_id: never a session.
      await ds.query(
        insertSession,
        v([keys.forged, JSON.stringify({ _auth_user_id: '999' }), later, ALICE_ID]),
      );
      await ds.query(
        `INSERT INTO chat_message (id, room, user_id, name, text, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)})`,
        v(['1000000000000001', 'lobby', ALICE_ID, 'Alice Liddell', 'said before the upgrade', now]),
      );
      await ds.query(
        `INSERT INTO vpn_client (name, created_by, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
        ['laptop-alice', 'root', Date.now()],
      );
      await ds.query(
        'INSERT INTO ops_alert (event, severity, subject, detail, dedupe_key, channel, outcome, error, attempts, created_at) ' +
          `VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(p).join(', ')})`,
        [
          'cert_renewal_failed',
          'critical',
          'renewal failed',
          'detail',
          null,
          'webhook',
          'sent',
          null,
          1,
          Date.now(),
        ],
      );
      await ds.destroy();

      t = await startApp({ DATABASE_URL: old.url, SECRET_KEY: SECRET });
    }, 120_000);

    afterAll(async () => {
      await t?.close();
      for (const drop of drops) await drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const me = (key: string) => request(t.baseUrl).get('/auth/me').set('Cookie', `sessionid=${key}`);

    it('keeps the sessions: signed ones, and plain-JSON ones from the first releases (now signed for Django)', async () => {
      expect((await me(keys.signed).expect(200)).body.username).toBe('alice');
      expect((await me(keys.legacy).expect(200)).body.username).toBe('alice');
      await me(keys.forged).expect(401);
      const ds = t.app.get(DataSource);
      const [row] = (await ds.query(`SELECT session_data FROM django_session WHERE session_key = ${p(1)}`, [
        keys.legacy,
      ])) as { session_data: string }[];
      const decoded = JSON.parse(await django('session-decode', SECRET, row.session_data)) as Record<
        string,
        string
      >;
      expect(decoded).toMatchObject({
        _auth_user_id: String(ALICE_ID),
        _auth_user_hash: sessionAuthHash(aliceHash, SECRET),
      });
    });

    it("gives auth_user, auth_group, auth_user_groups and django_session exactly the shape Django's migrate makes", async () => {
      expect(await tableSchema(old.target, DJANGO_AUTH_TABLES)).toBe(djangoSchema);
    });

    it("names every table of live's own live_…, with the data still in it", async () => {
      const names = await tableNames(old.target);
      const own = names.filter((n) => !DJANGO_AUTH_TABLES.includes(n));
      // Every other table is live's and prefixed (later releases add their own live_ tables)…
      expect(own.filter((n) => !n.startsWith('live_'))).toEqual([]);
      // …and the earlier release's tables were renamed, none left under its old names.
      expect(own).toEqual(
        expect.arrayContaining([
          'live_cert_run',
          'live_chat_message',
          'live_job_lease',
          'live_migrations',
          'live_ops_alert',
          'live_vpn_audit',
          'live_vpn_client',
        ]),
      );
      const history = await request(t.baseUrl)
        .get('/chat/rooms/lobby/messages')
        .set('Cookie', `sessionid=${keys.signed}`);
      expect(JSON.stringify(history.body)).toContain('said before the upgrade');
      const ds = t.app.get(DataSource);
      expect(await ds.query('SELECT name FROM live_vpn_client')).toEqual([{ name: 'laptop-alice' }]);
      expect(await ds.query('SELECT event FROM live_ops_alert')).toEqual([{ event: 'cert_renewal_failed' }]);
      if (engine === 'postgres') {
        const sequences = (await ds.query(
          `SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace ORDER BY relname`,
        )) as { relname: string }[];
        const names = sequences.map((s) => s.relname);
        const django = ['auth_group_id_seq', 'auth_user_groups_id_seq', 'auth_user_id_seq'];
        expect(names.filter((n) => !django.includes(n) && !n.startsWith('live_'))).toEqual([]);
        expect(names).toEqual(
          expect.arrayContaining([
            ...django,
            'live_cert_run_id_seq',
            'live_ops_alert_id_seq',
            'live_vpn_audit_id_seq',
          ]),
        );
      }
    });

    it('lets users log in, and be deleted with their group memberships, on the new shape', async () => {
      const agent = request.agent(t.baseUrl);
      const csrf = (await agent.get('/auth/csrf').expect(200)).body.csrfToken as string;
      await agent
        .post('/auth/login')
        .set('X-CSRFToken', csrf)
        .send({ username: 'alice', password: 'alice-old-release-pw' })
        .expect(200);
      await agent.get('/auth/me').expect(200);
      // Django's foreign keys have no ON DELETE: live removes the memberships itself.
      const ds = t.app.get(DataSource);
      const users = t.app.get(UsersService);
      const bob = await users.create({ username: 'bob-upgrade', password: 'bob-upgrade-pw' });
      await ds.query(`INSERT INTO auth_group (name) VALUES (${p(1)})`, ['editors']);
      await ds.query(
        `INSERT INTO auth_user_groups (user_id, group_id) SELECT ${p(1)}, id FROM auth_group WHERE name = ${p(2)}`,
        [bob.id, 'editors'],
      );
      await users.remove(bob.id);
      expect(await users.findById(bob.id)).toBeNull();
      expect(await ds.query('SELECT * FROM auth_user_groups')).toEqual([]);
    });

    it("makes a fresh database's Django tables in Django's exact shape too", async () => {
      const fresh = await newDatabase(engine, dir, 'fresh');
      drops.push(fresh.drop);
      const ds = await new DataSource(dataSourceOptions(fresh.target)).initialize();
      try {
        const { mode } = await runMigrations(ds, SECRET);
        expect(mode).toBe('standalone');
      } finally {
        await ds.destroy();
      }
      expect(await tableSchema(fresh.target, DJANGO_AUTH_TABLES)).toBe(djangoSchema);
      expect(
        (await tableNames(fresh.target)).filter(
          (n) => !DJANGO_AUTH_TABLES.includes(n) && !n.startsWith('live_'),
        ),
      ).toEqual([]);
    });
  },
);

describe('a Django database live cannot work with', () => {
  it('is refused before anything is created, naming what is missing (a custom user model)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-custom-user-'));
    const path = join(dir, 'db.sqlite3');
    const ds = await new DataSource(buildDataSourceOptions({ type: 'sqlite', path })).initialize();
    try {
      await ds.query(
        'CREATE TABLE django_migrations (id integer PRIMARY KEY, app varchar(255), name varchar(255), applied datetime)',
      );
      await ds.query(
        "INSERT INTO django_migrations (app, name, applied) VALUES ('auth', '0001_initial', '2024-01-01'), ('sessions', '0001_initial', '2024-01-01')",
      );
      // AUTH_USER_MODEL = 'accounts.User' with an email login: no username, no first/last name.
      await ds.query(
        'CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128), email varchar(254))',
      );
      await ds.query(
        'CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY, session_data text, expire_date datetime)',
      );
      await expect(runMigrations(ds, SECRET)).rejects.toThrow(
        /auth tables are Django's but lack what live needs \(auth_user\.last_login, auth_user\.is_superuser, auth_user\.username, auth_user\.first_name/,
      );
      expect((await tableNames({ type: 'sqlite', path })).filter((n) => n.startsWith('live_'))).toEqual([]);
      // The server stops with the reason instead of waiting for a database that will not change
      // (the retries are for one still starting: 9 × 3 s would outlast this spawn's limit).
      const run = spawnSync(process.execPath, entryPoint('main'), {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATA_DIR: dir,
          DATABASE_URL: `sqlite:${path}`,
        },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.signal).toBeNull();
      expect(run.status).not.toBe(0);
      expect(`${run.stdout}${run.stderr}`).toContain('not a custom user model');
    } finally {
      await ds.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
