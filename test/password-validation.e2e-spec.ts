import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { OPERATOR } from '../src/auth/account-rules';
import { loadCommonPasswords, passwordProblems, PasswordOwner } from '../src/auth/password-validation';
import { UsersService } from '../src/auth/users.service';
import { startApp, TestApp } from './support/app';
import { ROOT } from './support/entry-point';
import { manage } from './support/manage';
import { anonymousCsrf, createUser, login, LoginSession } from './support/users';

/**
 * Django's default password validators, checked against real Django 3.2 (Debian's python3-django):
 * the same messages for a corpus of passwords and users, and through the API and the manage CLI.
 */

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'test/fixtures/django/password_validation.py');

function djangoAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch (err) {
    if (process.env.CI === 'true') throw new Error(`CI needs python3-django for ${PYTHON}: ${String(err)}`);
    console.warn(`[live tests] password validation against Django skipped: ${PYTHON} cannot import django`);
    return false;
  }
}

interface Case {
  password: string;
  user: PasswordOwner | null;
}

/** Django's validate_password on each case: its messages, [] when the password passes. */
function djangoValidate(minLength: number, cases: Case[]): Promise<string[][]> {
  const input = JSON.stringify({
    min_length: minLength,
    cases: cases.map(({ password, user }) => ({
      password,
      user: user && {
        username: user.username ?? '',
        first_name: user.firstName ?? '',
        last_name: user.lastName ?? '',
        email: user.email ?? '',
      },
    })),
  });
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, [SCRIPT], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      const out = JSON.parse(stdout) as { django: string; answers: string[][] };
      expect(out.django).toMatch(/^3\.2\./);
      resolve(out.answers);
    });
    child.stdin!.end(input);
  });
}

const margaret: PasswordOwner = {
  username: 'margaret',
  firstName: 'Margaret',
  lastName: 'Hamilton',
  email: 'margaret.hamilton@nasa.example',
};
const bob: PasswordOwner = { username: 'bob', email: 'bob@example.org' };

/** Passwords near every validator's edge, in several scripts. */
const CORPUS: Case[] = [
  ...[
    'margaret1',
    'Hamilton!',
    'HAMILTON',
    'nasaexample',
    'Margaret Hamilton',
    'margaret.hamilton@nasa',
    'apollo-11-guidance',
    'x7#kQ',
    'iloveyou',
    '  PASSWORD  ',
    '\x1cletmein\x85',
    '\ufeffletmein',
    '58301729',
    '١٢٣٤٥٦٧٨٩',
    '²³¹²³¹²³¹',
    '①②③④⑤⑥⑦⑧',
    '12345678.5',
    '1',
    '😀😀😀😀',
    '😀😀😀😀😀😀😀😀',
    'violet-anchor-93',
    'correct horse battery staple',
    'abc\ud800defgh',
  ].map((password) => ({ password, user: margaret })),
  ...['examplebob', 'bobbobbob', 'orgexample!', 'b0b@example.org'].map((password) => ({
    password,
    user: bob,
  })),
  { password: 'İstanbul-1453', user: { username: 'istanbul' } },
  { password: 'ΣΊΣΥΦΟΣ-rocks', user: { username: 'σίσυφος' } },
  { password: 'Ünïcödé-Pässwörd', user: { username: 'ünïcödé', firstName: 'Straße' } },
  { password: 'strasse-ok-99', user: { username: 'x', lastName: 'Straße' } },
  { password: 'ŉapoleon!!', user: { username: 'ʼnapoleon' } },
  { password: 'a'.repeat(100), user: { username: 'a' } },
  { password: 'aaaaaaaaaa', user: { username: 'aa' } },
  { password: 'password', user: null },
  { password: 'qwertyuiop', user: { username: '', firstName: '', lastName: '', email: '' } },
  { password: 'café-au-lait', user: { firstName: 'Café Au', lastName: 'Lait_du-jour' } },
];

const describeDjango = djangoAvailable() ? describe : describe.skip;

describeDjango('password validators against real Django', () => {
  const common = loadCommonPasswords();

  it.each([8, 1, 12])(
    'give Django’s messages for every password of the corpus (min length %i)',
    async (minLength) => {
      const django = await djangoValidate(minLength, CORPUS);
      const ours = CORPUS.map(({ password, user }) =>
        passwordProblems(password, user ?? undefined, { minLength, common }),
      );
      const rows = CORPUS.map((c, i) => ({ password: c.password, django: django[i], live: ours[i] }));
      expect(rows.filter((r) => JSON.stringify(r.django) !== JSON.stringify(r.live))).toEqual([]);
      // The corpus reaches each validator and passes some passwords.
      const all = django.flat().join('\n');
      for (const kind of ['too similar', 'too common', 'entirely numeric']) expect(all).toContain(kind);
      if (minLength > 1) expect(all).toContain('too short');
      expect(django.filter((messages) => messages.length === 0).length).toBeGreaterThan(3);
    },
    60_000,
  );
});

describeDjango('password validators through the API and the manage CLI', () => {
  let t: TestApp;
  let dataDir: string;
  let root: LoginSession;
  /** One case per validator, each refused by Django with exactly one message, and a strong password. */
  const weak: Record<string, Case> = {
    similar: { password: 'Hamilton!', user: margaret },
    short: { password: 'x7#kQ', user: margaret },
    common: { password: 'iloveyou', user: margaret },
    numeric: { password: '58301729461', user: margaret },
  };
  const strong = 'violet-anchor-93';
  let expected: Record<string, string[]>;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'live-passwords-'));
    t = await startApp({ DATA_DIR: dataDir });
    await createUser(t, { username: 'root', password: 'root-pass', isStaff: true, isSuperuser: true });
    root = await login(t, 'root', 'root-pass');
    const names = Object.keys(weak);
    const answers = await djangoValidate(8, [...Object.values(weak), { password: strong, user: margaret }]);
    expected = Object.fromEntries(names.map((name, i) => [name, answers[i]]));
    expect(answers[names.length]).toEqual([]);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const asRoot = (r: request.Test) => r.set('Cookie', root.cookie).set('X-CSRFToken', root.csrf);
  const loginStatus = async (username: string, password: string) => {
    const anon = await anonymousCsrf(t);
    const res = await request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username, password });
    return res.status;
  };
  const users = () => t.app.get(UsersService);

  it('each validator has exactly one message of its own in the chosen cases', () => {
    expect(expected.similar).toEqual(['The password is too similar to the last name.']);
    expect(expected.short).toEqual(['This password is too short. It must contain at least 8 characters.']);
    expect(expected.common).toEqual(['This password is too common.']);
    expect(expected.numeric).toEqual(['This password is entirely numeric.']);
  });

  it.each(['similar', 'short', 'common', 'numeric'])(
    'POST /admin/users refuses a %s password with Django’s message (400), and creates nobody',
    async (name) => {
      const res = await asRoot(request(t.baseUrl).post('/admin/users'))
        .send({ ...margaret, password: weak[name].password })
        .expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expected[name] });
      expect(await users().findByUsername('margaret')).toBeNull();
    },
  );

  it('POST /admin/users lists every reason at once', async () => {
    const res = await asRoot(request(t.baseUrl).post('/admin/users'))
      .send({ username: 'nine', password: '9999' })
      .expect(400);
    expect(res.body.message).toEqual([
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
      'This password is entirely numeric.',
    ]);
  });

  it('a strong password passes: created, and it logs in', async () => {
    const res = await asRoot(request(t.baseUrl).post('/admin/users'))
      .send({ ...margaret, password: strong })
      .expect(201);
    expect(res.body).toMatchObject({ username: 'margaret', hasUsablePassword: true });
    expect(await loginStatus('margaret', strong)).toBe(200);
  });

  it.each(['similar', 'short', 'common', 'numeric'])(
    'PATCH /admin/users/:id refuses a %s password (400) and keeps the old one',
    async (name) => {
      const { id } = (await users().findByUsername('margaret'))!;
      const res = await asRoot(request(t.baseUrl).patch(`/admin/users/${id}`))
        .send({ password: weak[name].password })
        .expect(400);
      expect(res.body.message).toEqual(expected[name]);
      expect(await loginStatus('margaret', strong)).toBe(200);
    },
  );

  it('PATCH compares with the account as it will be (a new last name in the same request)', async () => {
    const { id } = (await users().findByUsername('margaret'))!;
    const res = await asRoot(request(t.baseUrl).patch(`/admin/users/${id}`))
      .send({ lastName: 'Violet-Anchor', password: 'violet-anchor-93' })
      .expect(400);
    expect(res.body.message).toEqual(['The password is too similar to the last name.']);
    await asRoot(request(t.baseUrl).patch(`/admin/users/${id}`))
      .send({ password: 'granite-sparrow-17' })
      .expect(200);
    expect(await loginStatus('margaret', 'granite-sparrow-17')).toBe(200);
  });

  it('trusted calls (fixtures, like Django’s create_user) are not validated; the operator is', async () => {
    await expect(users().create({ username: 'fixture', password: '1' })).resolves.toBeDefined();
    await expect(users().setPassword('fixture', '1', OPERATOR)).rejects.toMatchObject({
      kind: 'invalid',
      messages: [
        'This password is too short. It must contain at least 8 characters.',
        'This password is too common.',
        'This password is entirely numeric.',
      ],
    });
  });

  const env = () => ({ DATA_DIR: dataDir, PASSWORD_ITERATIONS: '1000' });

  it('createsuperuser refuses each weak password with exit 2 and Django’s messages; a strong one passes', async () => {
    const results = await Promise.all(
      Object.values(weak).map(({ password }) =>
        manage(['createsuperuser', '--username', 'ada', '--email', 'margaret.hamilton@nasa.example'], {
          ...env(),
          LIVE_PASSWORD: password,
        }),
      ),
    );
    // The CLI's user is "ada" with Margaret's email: Django judges these cases anew.
    const django = await djangoValidate(
      8,
      Object.values(weak).map(({ password }) => ({
        password,
        user: { username: 'ada', email: margaret.email },
      })),
    );
    for (const [i, messages] of django.entries()) {
      expect(messages.length).toBeGreaterThan(0);
      expect(results[i].code).toBe(2);
      expect(results[i].stderr).toContain(`createsuperuser: ${messages.join(' ')}`);
    }
    expect(await users().findByUsername('ada')).toBeNull();
    const similar = await manage(['createsuperuser', '--username', 'lovelace'], {
      ...env(),
      LIVE_PASSWORD: 'Lovelace1815',
    });
    expect(similar.code).toBe(2);
    expect(similar.stderr).toContain('The password is too similar to the username.');
    const created = await manage(['createsuperuser', '--username', 'ada', '--email', 'ada@example.org'], {
      ...env(),
      LIVE_PASSWORD: strong,
    });
    expect(created).toMatchObject({ code: 0, stdout: 'Superuser "ada" created.\n' });
    expect(await loginStatus('ada', strong)).toBe(200);
  }, 90_000);

  it('changepassword refuses each weak password with exit 2 and keeps the old one; a strong one passes', async () => {
    const results = await Promise.all(
      Object.values(weak).map(({ password }) =>
        manage(['changepassword', 'margaret'], { ...env(), LIVE_PASSWORD: password }),
      ),
    );
    for (const [i, name] of Object.keys(weak).entries()) {
      expect(results[i].code).toBe(2);
      expect(results[i].stderr).toContain(`changepassword: ${expected[name].join(' ')}`);
    }
    expect(await loginStatus('margaret', 'granite-sparrow-17')).toBe(200);
    const changed = await manage(['changepassword', 'margaret'], { ...env(), LIVE_PASSWORD: strong });
    expect(changed.code).toBe(0);
    expect(await loginStatus('margaret', strong)).toBe(200);
  }, 90_000);

  it('PASSWORD_MIN_LENGTH sets the minimum (manage reads it too)', async () => {
    const res = await manage(['changepassword', 'margaret'], {
      ...env(),
      PASSWORD_MIN_LENGTH: '20',
      LIVE_PASSWORD: 'granite-sparrow-17',
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('This password is too short. It must contain at least 20 characters.');
  }, 60_000);
});
