import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { PasswordHasher } from '../src/auth/password-hasher';
import { Pbkdf2Pool } from '../src/auth/pbkdf2-pool';
import { UsersService } from '../src/auth/users.service';
import { ExecFileCommandRunner } from '../src/common/command-runner';
import { startApp, TestApp } from './support/app';
import { ROOT } from './support/entry-point';
import { manage } from './support/manage';
import { anonymousCsrf } from './support/users';

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
