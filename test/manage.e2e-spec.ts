import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Session } from '../src/auth/session.entity';
import { UsersService } from '../src/auth/users.service';
import { startApp, TestApp } from './support/app';
import { manage } from './support/manage';
import { anonymousCsrf, login } from './support/users';

describe('manage commands (real child processes on the app’s database)', () => {
  let t: TestApp;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'live-manage-'));
    env = { DATA_DIR: dataDir, PASSWORD_ITERATIONS: '1000' };
    t = await startApp({ DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const loginStatus = async (username: string, password: string) => {
    const anon = await anonymousCsrf(t);
    const res = await request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username, password });
    return res.status;
  };

  it('prints usage with exit code 2 for no command, an unknown one, or bad options', async () => {
    const [none, unknown, missing, extra, unknownOption, badName] = await Promise.all([
      manage([], env),
      manage(['frobnicate'], env),
      manage(['createsuperuser', '--email', 'x@example.org'], env),
      manage(['changepassword', 'a', 'b'], env),
      manage(['clearsessions', '--all'], env),
      manage(['createsuperuser', '--username', 'bad user!'], { ...env, LIVE_PASSWORD: 'x' }),
    ]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('import-django-users <file>');
    expect(none.stdout).toContain('Exit codes: 0 done, 1 the command failed, 2 usage');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--username <username>' not specified");
    expect(missing.stderr).toContain('(add --help for usage)');
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('too many arguments');
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("unknown option '--all'");
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/^createsuperuser: .*username/m);
    // Usage errors found while parsing come before any database is opened.
    for (const r of [none, unknown, missing, extra, unknownOption])
      expect(r.stderr).not.toContain('Using database');
  }, 60_000);

  it("<command> --help prints that command's usage, exit 0", async () => {
    const [create, vpn, helpCommand, all] = await Promise.all([
      manage(['createsuperuser', '--help'], env),
      manage(['vpn-init', '--help'], env),
      manage(['help', 'changepassword'], env),
      manage(['--help'], env),
    ]);
    expect(create).toMatchObject({ code: 0, stderr: '' });
    expect(create.stdout).toContain('Usage: npm run manage -- createsuperuser [options]');
    expect(create.stdout).toMatch(/--username <username>\s+the new user’s name/);
    expect(create.stdout).toContain('--email <email>');
    expect(vpn).toMatchObject({ code: 0 });
    expect(vpn.stdout).toContain('--url <url>');
    expect(helpCommand).toMatchObject({ code: 0 });
    expect(helpCommand.stdout).toContain('Usage: npm run manage -- changepassword [options] <username>');
    expect(all).toMatchObject({ code: 0 });
    expect(all.stdout).toContain('renew-certs [options]');
  }, 60_000);

  it('says which database it uses, on stderr, with a PostgreSQL password masked', async () => {
    const here = await manage(['clearsessions'], env);
    expect(here.code).toBe(0);
    expect(here.stderr).toBe(`Using database sqlite:${join(dataDir, 'db.sqlite3')}\n`);
    // Nothing listens on port 1: the database is unavailable, which is exit code 3, not 1.
    const away = await manage(['clearsessions'], {
      ...env,
      DATABASE_URL: 'postgres://live:hunter2@127.0.0.1:1/live',
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    expect(away.stderr).toContain('Using database postgres://live:***@127.0.0.1:1/live\n');
    expect(away.stderr).toContain('clearsessions: Database unavailable: connection refused');
    expect(away.stderr).not.toContain('hunter2');
    expect(away.code).toBe(3);
  }, 60_000);

  it('a value the feature refuses (a domain error of kind invalid) is a usage error, exit 2', async () => {
    const badUrl = await manage(['vpn-init', '--url', 'http://x'], {
      ...env,
      VPN_RUNNER: 'local',
      VPN_CRL_CRON: 'off',
    });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('vpn-init: url must be [udp|tcp]://host[:port]');
  }, 60_000);

  it('migrate reports that the server already applied everything', async () => {
    const res = await manage(['migrate'], env);
    expect(res).toMatchObject({ code: 0, stdout: 'No migrations to apply.\n' });
  }, 30_000);

  it('createsuperuser makes a staff superuser who can log in; refuses a duplicate and a missing password', async () => {
    const created = await manage(['createsuperuser', '--username', 'root', '--email', 'root@example.org'], {
      ...env,
      LIVE_PASSWORD: 'root-secret',
    });
    expect(created).toMatchObject({ code: 0, stdout: 'Superuser "root" created.\n' });
    const session = await login(t, 'root', 'root-secret');
    const me = await request(t.baseUrl).get('/auth/me').set('Cookie', session.cookie).expect(200);
    expect(me.body).toMatchObject({
      username: 'root',
      email: 'root@example.org',
      isStaff: true,
      isSuperuser: true,
    });

    const [dup, noPassword] = await Promise.all([
      manage(['createsuperuser', '--username', 'root'], { ...env, LIVE_PASSWORD: 'x' }),
      manage(['createsuperuser', '--username', 'other'], env),
    ]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('createsuperuser: A user with username "root" already exists');
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).toContain('set LIVE_PASSWORD');
    expect(await t.app.get(UsersService).findByUsername('other')).toBeNull();
  }, 60_000);

  it('create-token prints a working key alone on stdout; revoke-token stops it; bad scopes are usage errors', async () => {
    await t.app.get(UsersService).create({ username: 'ci-bot', password: 'ci-bot-pass' });
    const made = await manage(['create-token', 'ci-bot', '--scope', 'chat:read', '--name', 'ci'], env);
    expect(made.code).toBe(0);
    const key = made.stdout.trim();
    expect(key).toMatch(/^live_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toContain('for user "ci-bot", scopes chat:read');
    const me = await request(t.baseUrl).get('/auth/me').set('Authorization', `Token ${key}`).expect(200);
    expect(me.body.username).toBe('ci-bot');
    const [badScope, adminForPlain] = await Promise.all([
      manage(['create-token', 'ci-bot', '--scope', 'chat:everything'], env),
      manage(['create-token', 'ci-bot', '--scope', 'admin:vpn'], env),
    ]);
    expect([badScope.code, adminForPlain.code]).toEqual([2, 2]);
    expect(badScope.stderr).toContain('unknown scope chat:everything');
    expect(adminForPlain.stderr).toContain('admin:vpn can only be given to staff users');
    const [row] = await t.app.get(DataSource).query(`SELECT id FROM live_api_token WHERE name = 'ci'`);
    const revoked = await manage(['revoke-token', String(row.id)], env);
    expect(revoked.code).toBe(0);
    await request(t.baseUrl).get('/auth/me').set('Authorization', `Token ${key}`).expect(401);
    expect((await manage(['revoke-token', String(row.id)], env)).code).toBe(1);
  }, 90_000);

  it('changepassword sets a new password; an unknown user is an error', async () => {
    const changed = await manage(['changepassword', 'root'], { ...env, LIVE_PASSWORD: 'new-root-secret' });
    expect(changed.code).toBe(0);
    expect(await loginStatus('root', 'root-secret')).toBe(401);
    expect(await loginStatus('root', 'new-root-secret')).toBe(200);
    const unknown = await manage(['changepassword', 'nobody'], { ...env, LIVE_PASSWORD: 'x' });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no user named "nobody"');
  }, 60_000);

  it('clearsessions deletes expired sessions only', async () => {
    const repo = t.app.get(DataSource).getRepository(Session);
    await repo.insert({
      sessionKey: 'expiredsessionkey000000000000000',
      sessionData: '{}',
      expireDate: new Date(Date.now() - 60_000),
    });
    const live = await login(t, 'root', 'new-root-secret');
    const res = await manage(['clearsessions'], env);
    expect(res).toMatchObject({ code: 0, stdout: 'Deleted 1 expired session(s).\n' });
    expect(await repo.findOneBy({ sessionKey: 'expiredsessionkey000000000000000' })).toBeNull();
    await request(t.baseUrl).get('/auth/me').set('Cookie', live.cookie).expect(200);
  }, 30_000);

  it('import-django-users refuses a bad file, naming the record, and imports nothing', async () => {
    const file = join(dataDir, 'bad.json');
    const good = {
      model: 'auth.user',
      pk: 1,
      fields: { username: 'fine', password: '', email: '', date_joined: '2020-01-01T00:00:00Z' },
    };
    const bad = {
      model: 'auth.user',
      pk: 2,
      fields: { username: 'bad user!', date_joined: '2020-01-01T00:00:00Z' },
    };
    writeFileSync(file, JSON.stringify([good, bad]));
    const res = await manage(['import-django-users', file], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/record 2: username "bad user!".*nothing imported/);
    expect(await t.app.get(UsersService).findByUsername('fine')).toBeNull();
    const missing = await manage(['import-django-users', join(dataDir, 'nope.json')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
  }, 60_000);
});
