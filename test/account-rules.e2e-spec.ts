import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { OPERATOR } from '../src/auth/account-rules';
import { User } from '../src/auth/user.entity';
import { UsersService } from '../src/auth/users.service';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { manage } from './support/manage';
import { anonymousCsrf, createUser, login, LoginSession } from './support/users';

/**
 * Who may do what (issue 17), through the API, the service the console and manage use, and manage
 * itself: every rule refused and allowed, on SQLite and PostgreSQL, and the last active superuser
 * kept when two changes race.
 */
describe.each(databaseVariants())('who may do what on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let dataDir: string;
  let env: Record<string, string>;
  const ids: Record<string, number> = {};
  const sessions: Record<string, LoginSession> = {};
  const PW = 'quartz-meadow-41';

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    dataDir = mkdtempSync(join(tmpdir(), 'live-rules-'));
    env = { ...db.env, DATA_DIR: dataDir, PASSWORD_ITERATIONS: '1000' };
    t = await startApp(env);
    const people: Array<[string, Partial<User>]> = [
      ['chief', { isStaff: true, isSuperuser: true }],
      ['deputy', { isStaff: true, isSuperuser: true }],
      ['clerk', { isStaff: true }],
      ['aide', { isStaff: true }],
      ['pat', {}],
      ['sam', {}],
    ];
    for (const [username, flags] of people)
      ids[username] = (await createUser(t, { username, password: `${username}-${PW}`, ...flags })).id;
    for (const name of ['chief', 'deputy', 'clerk']) sessions[name] = await login(t, name, `${name}-${PW}`);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const as = (who: string, method: 'post' | 'patch' | 'delete', path: string) =>
    request(t.baseUrl)
      [method](path)
      .set('Cookie', sessions[who].cookie)
      .set('X-CSRFToken', sessions[who].csrf);
  const patch = (who: string, target: string, body: object) =>
    as(who, 'patch', `/admin/users/${ids[target]}`).send(body);
  const row = (username: string) => t.app.get(DataSource).getRepository(User).findOneByOrFail({ username });
  const loginStatus = async (username: string, password: string) => {
    const anon = await anonymousCsrf(t);
    return (
      await request(t.baseUrl)
        .post('/auth/login')
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username, password })
    ).status;
  };
  const GRANT = 'Only superusers may grant or remove staff or superuser status';

  describe('granting and removing staff or superuser status', () => {
    it('a staff member who is not a superuser may not create staff or superusers (403)', async () => {
      for (const flags of [{ isStaff: true }, { isSuperuser: true }, { isStaff: true, isSuperuser: true }]) {
        const res = await as('clerk', 'post', '/admin/users')
          .send({ username: 'would-be', password: PW, ...flags })
          .expect(403);
        expect(res.body).toEqual({ statusCode: 403, error: 'Forbidden', message: GRANT });
      }
      await as('clerk', 'post', '/admin/users').send({ username: 'would-be', isStaff: false }).expect(201);
      await as('clerk', 'delete', `/admin/users/${(await row('would-be')).id}`).expect(204);
    });

    it('a superuser may create staff and superusers', async () => {
      const res = await as('chief', 'post', '/admin/users')
        .send({ username: 'newstaff', password: PW, isStaff: true, isSuperuser: true })
        .expect(201);
      expect(res.body).toMatchObject({ isStaff: true, isSuperuser: true });
      ids.newstaff = res.body.id;
    });

    it('a staff member may not grant or remove either status on anyone (403), nothing changes', async () => {
      for (const [target, body] of [
        ['pat', { isStaff: true }],
        ['pat', { isSuperuser: true }],
        ['aide', { isStaff: false }],
        ['chief', { isSuperuser: false }],
        ['clerk', { isSuperuser: true }],
      ] as const) {
        const res = await patch('clerk', target, body).expect(403);
        expect(res.body.message).toBe(GRANT);
      }
      expect(await row('pat')).toMatchObject({ isStaff: false, isSuperuser: false });
      expect(await row('aide')).toMatchObject({ isStaff: true });
      expect(await row('clerk')).toMatchObject({ isSuperuser: false });
      // Sending a flag's current value is no change, and allowed.
      await patch('clerk', 'pat', { isStaff: false, lastName: 'Plain' }).expect(200);
    });

    it('a superuser may grant and remove both on others', async () => {
      await patch('chief', 'pat', { isStaff: true }).expect(200);
      await patch('chief', 'pat', { isSuperuser: true }).expect(200);
      expect(await row('pat')).toMatchObject({ isStaff: true, isSuperuser: true });
      await patch('chief', 'pat', { isStaff: false, isSuperuser: false }).expect(200);
      await patch('chief', 'aide', { isStaff: false }).expect(200);
      await patch('chief', 'aide', { isStaff: true }).expect(200);
      expect(await row('pat')).toMatchObject({ isStaff: false, isSuperuser: false });
      expect(await row('aide')).toMatchObject({ isStaff: true });
    });
  });

  describe("another staff member's account", () => {
    it("a staff member may not set another staff member's or a superuser's password (403)", async () => {
      for (const target of ['aide', 'chief']) {
        const res = await patch('clerk', target, { password: 'stolen-keys-77' }).expect(403);
        expect(res.body.message).toBe("Only superusers may set another staff member's password");
        expect(await loginStatus(target, `${target}-${PW}`)).toBe(200);
      }
    });

    it('nor change its email, names or active flag (403)', async () => {
      for (const body of [{ email: 'clerk@evil.example' }, { firstName: 'X' }, { isActive: false }]) {
        const res = await patch('clerk', 'chief', body).expect(403);
        expect(res.body.message).toBe("Only superusers may change another staff member's account");
      }
      await patch('clerk', 'aide', { isActive: false }).expect(403);
      expect(await row('chief')).toMatchObject({ email: '', firstName: '', isActive: true });
      expect(await row('aide')).toMatchObject({ isActive: true });
    });

    it("a superuser may set a staff member's password, and deactivate and reactivate them", async () => {
      await patch('chief', 'aide', { password: 'aide-new-pass-12' }).expect(200);
      expect(await loginStatus('aide', 'aide-new-pass-12')).toBe(200);
      await patch('chief', 'aide', { isActive: false }).expect(200);
      expect(await loginStatus('aide', 'aide-new-pass-12')).toBe(401);
      await patch('chief', 'aide', { isActive: true, email: 'aide@example.org' }).expect(200);
      expect(await loginStatus('aide', 'aide-new-pass-12')).toBe(200);
    });

    it("any staff member may manage an ordinary user's account", async () => {
      await patch('clerk', 'sam', { password: 'sam-new-pass-12', email: 'sam@example.org' }).expect(200);
      expect(await loginStatus('sam', 'sam-new-pass-12')).toBe(200);
      await patch('clerk', 'sam', { isActive: false }).expect(200);
      await patch('clerk', 'sam', { isActive: true }).expect(200);
    });
  });

  describe('deleting', () => {
    it('a staff member may not delete staff or superusers (403), but may delete a user', async () => {
      for (const target of ['aide', 'chief', 'newstaff']) {
        const res = await as('clerk', 'delete', `/admin/users/${ids[target]}`).expect(403);
        expect(res.body.message).toBe('Only superusers may delete staff accounts');
      }
      const temp = await createUser(t, { username: 'temp-user' });
      await as('clerk', 'delete', `/admin/users/${temp.id}`).expect(204);
    });

    it('a superuser may delete staff and superusers', async () => {
      await as('chief', 'delete', `/admin/users/${ids.newstaff}`).expect(204);
      expect(await t.app.get(UsersService).findByUsername('newstaff')).toBeNull();
    });
  });

  describe('your own account', () => {
    it.each([
      ['chief', { isActive: false }, 'You cannot deactivate your own account'],
      ['chief', { isSuperuser: false }, 'You cannot remove your own superuser status'],
      ['chief', { isStaff: false }, 'You cannot remove your own staff status'],
      [
        'chief',
        { isActive: false, isSuperuser: false, firstName: 'Gone' },
        'You cannot deactivate your own account',
      ],
      ['clerk', { isStaff: false }, 'You cannot remove your own staff status'],
      ['clerk', { isActive: false }, 'You cannot deactivate your own account'],
    ])('%s may not %j (400)', async (who, body, message) => {
      const res = await patch(who, who, body).expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message });
      expect(await row(who)).toMatchObject({ isActive: true, isStaff: true, firstName: '' });
    });

    it.each(['chief', 'clerk'])('%s may not delete themselves (400)', async (who) => {
      const res = await as(who, 'delete', `/admin/users/${ids[who]}`).expect(400);
      expect(res.body.message).toBe('You cannot delete your own account');
      expect(await row(who)).toBeDefined();
    });

    it('a staff member may not make themselves a superuser (403), but may edit their names and password', async () => {
      await patch('clerk', 'clerk', { isSuperuser: true }).expect(403);
      await patch('clerk', 'clerk', { firstName: 'Clara', password: 'clerk-fresh-pass-9' }).expect(200);
      // A new password ends one's own sessions too, as Django's does without update_session_auth_hash.
      sessions.clerk = await login(t, 'clerk', 'clerk-fresh-pass-9');
      await patch('clerk', 'clerk', { firstName: '' }).expect(200);
    });
  });

  describe('the last active superuser', () => {
    const users = () => t.app.get(UsersService);

    it('a superuser may demote another while one remains', async () => {
      await patch('chief', 'deputy', { isSuperuser: false }).expect(200);
      await patch('chief', 'deputy', { isSuperuser: true }).expect(200);
    });

    it('the operator (manage) may not demote, deactivate or delete the last one (409); the database keeps it', async () => {
      await patch('chief', 'deputy', { isSuperuser: false }).expect(200);
      const message = '"chief" is the last active superuser; make another user an active superuser first';
      for (const change of [
        () => users().update(ids.chief, { isSuperuser: false }, OPERATOR),
        () => users().update(ids.chief, { isActive: false }, OPERATOR),
        () => users().remove(ids.chief, OPERATOR),
        () => users().update(ids.chief, { isActive: false }), // a trusted call too
      ])
        await expect(change()).rejects.toMatchObject({ kind: 'conflict', status: 409, message });
      expect(await row('chief')).toMatchObject({ isSuperuser: true, isActive: true });
      // Another superuser first, then it may go.
      await patch('chief', 'deputy', { isSuperuser: true }).expect(200);
    });

    it('two superusers demoting each other at once: one wins, the other is refused', async () => {
      const results = await Promise.all([
        patch('chief', 'deputy', { isSuperuser: false }),
        patch('deputy', 'chief', { isSuperuser: false }),
      ]);
      const statuses = results.map((r) => r.status).sort();
      // 409 when both passed the rules and met under the lock; 403 when one already saw the other's demotion.
      expect([
        [200, 403],
        [200, 409],
      ]).toContainEqual(statuses);
      const active = await t.app
        .get(DataSource)
        .getRepository(User)
        .countBy({ isSuperuser: true, isActive: true });
      expect(active).toBe(1);
      const winner = results[0].status === 200 ? 'chief' : 'deputy';
      const loser = winner === 'chief' ? 'deputy' : 'chief';
      await patch(winner, loser, { isSuperuser: true }).expect(200);
    });

    type Step = { id: number; change: { isSuperuser?: boolean; isActive?: boolean } | 'delete' };
    const races: Array<[string, (a: number, b: number) => Step[]]> = [
      [
        'demote, demote',
        (a, b) => [
          { id: a, change: { isSuperuser: false } },
          { id: b, change: { isSuperuser: false } },
        ],
      ],
      [
        'deactivate, delete',
        (a, b) => [
          { id: a, change: { isActive: false } },
          { id: b, change: 'delete' },
        ],
      ],
    ];
    it.each(races)('racing changes (%s) through the service keep exactly one', async (_name, plan) => {
      const steps = plan(ids.chief, ids.deputy);
      const outcomes = await Promise.allSettled(
        steps.map(({ id, change }) =>
          change === 'delete' ? users().remove(id, OPERATOR) : users().update(id, change, OPERATOR),
        ),
      );
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
      expect(refused.reason).toMatchObject({ kind: 'conflict' });
      const repo = t.app.get(DataSource).getRepository(User);
      expect(await repo.countBy({ isSuperuser: true, isActive: true })).toBe(1);
      // Put things back: the deleted one is recreated as a superuser with the same name.
      const survivors = await repo.findBy({ isSuperuser: true, isActive: true });
      const gone = survivors[0].username === 'chief' ? 'deputy' : 'chief';
      const back = await repo.findOneBy({ username: gone });
      if (back) await users().update(back.id, { isSuperuser: true, isActive: true }, OPERATOR);
      else
        ids[gone] = (
          await createUser(t, { username: gone, password: `${gone}-${PW}`, isStaff: true, isSuperuser: true })
        ).id;
      sessions[gone] = await login(t, gone, `${gone}-${PW}`);
    });
  });

  describe('manage, as the operator', () => {
    it('createsuperuser and changepassword act on any account (a superuser’s password included)', async () => {
      const created = await manage(['createsuperuser', '--username', 'night-op'], {
        ...env,
        LIVE_PASSWORD: PW,
      });
      expect(created.code).toBe(0);
      const changed = await manage(['changepassword', 'chief'], {
        ...env,
        LIVE_PASSWORD: 'chief-rotated-pass-3',
      });
      expect(changed.code).toBe(0);
      expect(await loginStatus('chief', 'chief-rotated-pass-3')).toBe(200);
      sessions.chief = await login(t, 'chief', 'chief-rotated-pass-3');
    }, 60_000);

    it('import-django-users that would leave no active superuser is refused (exit 1) and imports nothing', async () => {
      const repo = t.app.get(DataSource).getRepository(User);
      // Only chief stays an active superuser.
      for (const name of ['deputy', 'night-op'])
        await repo.update({ username: name }, { isSuperuser: false });
      const file = join(dataDir, 'users.json');
      const fields = (username: string, isSuperuser: boolean, isActive: boolean) => ({
        model: 'auth.user',
        pk: 1,
        fields: {
          password: '!unusable',
          last_login: null,
          is_superuser: isSuperuser,
          username,
          first_name: '',
          last_name: '',
          email: '',
          is_staff: true,
          is_active: isActive,
          date_joined: '2024-01-01T00:00:00Z',
        },
      });
      writeFileSync(
        file,
        JSON.stringify([fields('imported-one', false, true), fields('chief', true, false)]),
      );
      const refused = await manage(['import-django-users', file], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        'import-django-users: "chief" is the last active superuser; make another user an active superuser first',
      );
      expect(await repo.findOneBy({ username: 'imported-one' })).toBeNull();
      expect(await row('chief')).toMatchObject({ isSuperuser: true, isActive: true });
      // With another active superuser in the same file, it goes through.
      writeFileSync(file, JSON.stringify([fields('imported-one', true, true), fields('chief', true, false)]));
      const done = await manage(['import-django-users', file], env);
      expect(done.code).toBe(0);
      expect(await row('chief')).toMatchObject({ isActive: false });
    }, 60_000);
  });
});
