import { pbkdf2Sync } from 'node:crypto';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { LoginFailurePurgeJob } from '../src/auth/lockouts/login-failure-purge.job';
import { createTestDatabase, startApp, TestApp } from './support/app';
import { AlertReceivers, startAlertReceivers } from './support/alert-receivers';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { databaseVariants } from './support/databases';
import { LiveInstance, startInstance } from './support/instances';
import { manage } from './support/manage';
import { anonymousCsrf, createUser, login, LoginSession } from './support/users';
import { eventually } from './support/ws';

/**
 * Lockouts (issue 17): failed logins counted per (username, address) and per address in the shared
 * database, listed and cleared by staff (API, console, manage), logged and alerted; the counted
 * address is the one a trusted proxy saw, whatever the client wrote.
 */

interface LockoutBody {
  username: string | null;
  address: string;
  failures: number;
  lastFailureAt: string;
  lockedUntil: string;
}

interface AlertBody {
  event: string;
  severity: string;
  subject: string;
}

describe.each(databaseVariants())('lockouts on $name', (variant) => {
  let t: TestApp;
  let r: AlertReceivers;
  let teardownDb: () => Promise<void>;
  let dbEnv: Record<string, string>;
  let staff: LoginSession;
  let plain: LoginSession;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    dbEnv = db.env;
    r = await startAlertReceivers();
    t = await startApp({
      ...db.env,
      // The list form: requests from this proxy have their X-Forwarded-For read, nothing else's.
      TRUST_PROXY: '127.0.0.1',
      LOGIN_MAX_FAILURES: '3',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '7',
      ALERT_WEBHOOK_URL: r.webhookUrl,
      ALERT_WEBHOOK_RETRIES: '0',
    });
    await createUser(t, { username: 'keeper', password: 'tulip-orbit-5521', isStaff: true });
    await createUser(t, { username: 'plain', password: 'maple-river-0934' });
    await createUser(t, { username: 'carl', password: 'carl-walks-home-7' });
    await createUser(t, { username: 'erik', password: 'erik-sails-north-3' });
    staff = await login(t, 'keeper', 'tulip-orbit-5521');
    plain = await login(t, 'plain', 'maple-river-0934');
  });

  afterAll(async () => {
    await t?.close();
    await r?.close();
    await teardownDb?.();
  });

  const http = () => request(t.baseUrl);

  async function attempt(username: string, password: string, forwardedFor: string) {
    const anon = await anonymousCsrf(t);
    return http()
      .post('/auth/login')
      .set('X-Forwarded-For', forwardedFor)
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username, password });
  }

  const listed = async (): Promise<LockoutBody[]> =>
    (await http().get('/admin/lockouts').set('Cookie', staff.cookie).expect(200)).body.lockouts;

  const unlock = (query: string, session = staff) =>
    http().delete(`/admin/lockouts?${query}`).set('Cookie', session.cookie).set('X-CSRFToken', session.csrf);

  const lockoutAlerts = () =>
    r.webhooks.map((w) => w.body as AlertBody).filter((b) => b.event === 'auth.lockout');

  it('two users failing from one address do not lock a third; the address ceiling then does', async () => {
    for (const name of ['anna', 'ben']) {
      for (let i = 0; i < 3; i++) expect((await attempt(name, 'wrong', '10.50.0.1')).status).toBe(401);
      expect((await attempt(name, 'wrong', '10.50.0.1')).status).toBe(429);
    }
    // Six failures from the address, under its ceiling of seven: carl is not locked out.
    expect((await attempt('carl', 'carl-walks-home-7', '10.50.0.1')).status).toBe(200);
    // The seventh failure, by a fourth user, locks every username from the address...
    expect((await attempt('dora', 'wrong', '10.50.0.1')).status).toBe(401);
    const refused = await attempt('carl', 'carl-walks-home-7', '10.50.0.1');
    expect(refused.status).toBe(429);
    expect(refused.body.message).toMatch(/^Too many failed login attempts\. Try again in \d+ seconds\.$/);
    // ...and nothing from elsewhere.
    expect((await attempt('carl', 'carl-walks-home-7', '10.50.0.2')).status).toBe(200);
  });

  it('staff see the lockouts; others may not', async () => {
    await http().get('/admin/lockouts').expect(401);
    await http().get('/admin/lockouts').set('Cookie', plain.cookie).expect(403);
    const body = (await http().get('/admin/lockouts').set('Cookie', staff.cookie).expect(200)).body;
    expect(body).toMatchObject({ windowSeconds: 900, maxFailures: 3, maxFailuresPerAddress: 7 });
    const lockouts = body.lockouts as LockoutBody[];
    expect(lockouts.map((l) => [l.username, l.address, l.failures])).toEqual([
      [null, '10.50.0.1', 7],
      ['ben', '10.50.0.1', 3],
      ['anna', '10.50.0.1', 3],
    ]);
    for (const l of lockouts) {
      const until = Date.parse(l.lockedUntil);
      expect(until - Date.parse(l.lastFailureAt)).toBeLessThanOrEqual(900_000);
      expect(until - Date.now()).toBeGreaterThan(800_000);
    }
  });

  it('staff clear a pair, then an address; each lockout and unlock is logged and alerted', async () => {
    await unlock('username=anna&address=10.50.0.1', plain).expect(403);
    await unlock('username=anna&address=10.50.0.1').set('X-CSRFToken', 'x'.repeat(32)).expect(403);
    const pair = await unlock('username=anna&address=10.50.0.1').expect(200);
    // Clearing anna's three failures also brought the address under its ceiling.
    expect(pair.body.failuresCleared).toBe(3);
    expect((pair.body.lockouts as LockoutBody[]).map((l) => [l.username, l.address])).toEqual([
      [null, '10.50.0.1'],
      ['anna', '10.50.0.1'],
    ]);
    expect((await attempt('anna', 'wrong', '10.50.0.1')).status).toBe(401);
    expect((await attempt('ben', 'wrong', '10.50.0.1')).status).toBe(429);
    const address = await unlock('address=10.50.0.1').expect(200);
    expect((address.body.lockouts as LockoutBody[]).map((l) => l.username)).toEqual(['ben']);
    expect(address.body.failuresCleared).toBe(5); // ben 3, dora 1, anna's new 1
    expect(await listed()).toEqual([]);
    expect((await attempt('ben', 'wrong', '10.50.0.1')).status).toBe(401);
    // A value that matches nothing clears nothing, whatever it looks like.
    await unlock(`username=${encodeURIComponent("' OR 1=1 --")}`).expect(200, {
      lockouts: [],
      failuresCleared: 0,
    });
    expect((await attempt('ben', 'wrong', '10.50.0.1')).status).toBe(401); // ben's failure is still counted: 2

    await r.waitFor(() => lockoutAlerts().length >= 5);
    expect(lockoutAlerts().map((a) => [a.severity, a.subject])).toEqual([
      ['warning', 'Logins locked for anna from 10.50.0.1'],
      ['warning', 'Logins locked for ben from 10.50.0.1'],
      ['warning', 'Logins locked for every username from 10.50.0.1'],
      ['info', 'Logins unlocked for anna from 10.50.0.1 by keeper'],
      ['info', 'Logins unlocked for 10.50.0.1 by keeper'],
    ]);
  });

  it('a second lockout of the same key within a day is recorded, not sent again (dedupe)', async () => {
    const sentBefore = lockoutAlerts().length;
    expect((await attempt('ben', 'wrong', '10.50.0.1')).status).toBe(401); // the third: locked again
    expect((await attempt('ben', 'wrong', '10.50.0.1')).status).toBe(429);
    await eventually(async () => {
      const { alerts } = (await http().get('/admin/alerts?limit=20').set('Cookie', staff.cookie).expect(200))
        .body as { alerts: { dedupeKey: string; outcome: string }[] };
      return alerts.some((a) => a.dedupeKey === 'auth.lockout:ben@10.50.0.1' && a.outcome === 'suppressed');
    });
    expect(lockoutAlerts()).toHaveLength(sentBefore);
  });

  it('counts the address the listed proxy appended, never a left-hand one the client wrote', async () => {
    for (let i = 0; i < 3; i++)
      expect((await attempt('fay', 'wrong', `203.0.113.${i}, 10.60.0.1`)).status).toBe(401);
    // A fresh forged prefix, or a second listed proxy in the chain, still counts 10.60.0.1.
    expect((await attempt('fay', 'wrong', '198.51.100.9, 10.60.0.1')).status).toBe(429);
    expect((await attempt('fay', 'wrong', '203.0.113.9, 10.60.0.1, 127.0.0.1')).status).toBe(429);
    expect((await attempt('fay', 'wrong', '10.60.0.1, 10.60.0.2')).status).toBe(401);
    const fay = (await listed()).filter((l) => l.username === 'fay');
    expect(fay.map((l) => [l.address, l.failures])).toEqual([['10.60.0.1', 3]]);
  });

  it('npm run manage -- unlock USERNAME|ADDRESS clears them, says what it lifted, and alerts', async () => {
    // The server's settings: its limits decide what counts as locked.
    const env = {
      DATA_DIR: t.dataDir,
      ...dbEnv,
      LOGIN_MAX_FAILURES: '3',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '7',
      ALERT_WEBHOOK_URL: r.webhookUrl,
      ALERT_WEBHOOK_RETRIES: '0',
    };
    for (let i = 0; i < 3; i++) await attempt('erik', 'wrong', '10.70.0.1');
    expect((await attempt('erik', 'erik-sails-north-3', '10.70.0.1')).status).toBe(429);
    const byName = await manage(['unlock', 'erik'], env);
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe(
      'Unlocked erik from 10.70.0.1 (3 failed logins).\nCleared 3 failed login(s).\n',
    );
    expect((await attempt('erik', 'erik-sails-north-3', '10.70.0.1')).status).toBe(200);

    for (let i = 0; i < 3; i++) await attempt('gus', 'wrong', '10.70.0.2');
    const byAddress = await manage(['unlock', '10.70.0.2'], env);
    expect(byAddress.stdout).toBe(
      'Unlocked gus from 10.70.0.2 (3 failed logins).\nCleared 3 failed login(s).\n',
    );
    expect((await attempt('gus', 'wrong', '10.70.0.2')).status).toBe(401);

    const [nothing, usage] = await Promise.all([
      manage(['unlock', 'nobody-at-all'], env),
      manage(['unlock'], env),
    ]);
    expect([nothing.code, nothing.stdout]).toEqual([
      0,
      'No lockout for "nobody-at-all".\nCleared 0 failed login(s).\n',
    ]);
    expect(usage.code).toBe(2);
    await r.waitFor(() =>
      lockoutAlerts().some((a) => a.subject === 'Logins unlocked for 10.70.0.2 by manage'),
    );
    expect(lockoutAlerts().map((a) => a.subject)).toContain('Logins unlocked for erik by manage');
  }, 60_000);

  it('a right password clears its pair; the purge job deletes failures that left the window', async () => {
    await attempt('hal', 'wrong', '10.80.0.1');
    await createUser(t, { username: 'hal', password: 'hal-opens-doors-4' });
    await attempt('hal', 'wrong', '10.80.0.1');
    expect((await attempt('hal', 'hal-opens-doors-4', '10.80.0.1')).status).toBe(200);
    // Two more wrong ones do not lock him: the count started afresh.
    for (let i = 0; i < 2; i++) expect((await attempt('hal', 'wrong', '10.80.0.1')).status).toBe(401);
    expect((await attempt('hal', 'hal-opens-doors-4', '10.80.0.1')).status).toBe(200);

    const job = t.app.get(LoginFailurePurgeJob);
    expect(await job.work(Date.now())).toBe(0); // nothing is that old
    expect(await job.work(Date.now() + 900_001)).toBeGreaterThan(0);
    expect(await listed()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const clusterEnabled = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
if (!clusterEnabled) console.warn('[live tests] lockouts cluster suite skipped: needs PostgreSQL and Redis');
const describeCluster = clusterEnabled ? describe : describe.skip;

describeCluster('lockouts across two live processes on one PostgreSQL', () => {
  let db: { url: string; drop(): Promise<void> };
  let instances: LiveInstance[] = [];
  const prefix = `live-test-lockouts-${process.pid}-${Date.now().toString(36)}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix, TRUST_PROXY: 'true' };
    instances = await Promise.all(['a', 'b'].map((name) => startInstance(name, env)));
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    for (const [username, password, staff] of [
      ['warden', 'warden-cluster-pass', true],
      ['target', 'target-cluster-pass', false],
    ] as const) {
      const salt = `salt${username}`;
      const hash = pbkdf2Sync(password, salt, 1000, 32, 'sha256').toString('base64');
      await pg.query(
        `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
           is_active, date_joined) VALUES ($1, false, $2, '', '', '', $3, true, now())`,
        [`pbkdf2_sha256$1000$${salt}$${hash}`, username, staff],
      );
    }
    await pg.end();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await db?.drop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }, 30_000);

  async function post(instance: LiveInstance, username: string, password: string, forwardedFor: string) {
    const csrf = ((await (await fetch(`${instance.baseUrl}/auth/csrf`)).json()) as { csrfToken: string })
      .csrfToken;
    const res = await fetch(`${instance.baseUrl}/auth/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: `csrftoken=${csrf}`,
        'x-csrftoken': csrf,
        'x-forwarded-for': forwardedFor,
      },
      body: JSON.stringify({ username, password }),
    });
    const cookies = res.headers.getSetCookie();
    const cookie = cookies.map((c) => c.split(';')[0]).join('; ');
    const token = /csrftoken=([^;]*)/.exec(cookie)?.[1] ?? '';
    return { status: res.status, cookie, csrf: token };
  }

  async function hashes(instance: LiveInstance): Promise<number> {
    const text = await (await fetch(`${instance.baseUrl}/metrics`)).text();
    return Number(/^live_password_hashes_total (\d+)$/m.exec(text)?.[1]);
  }

  it('share the count: 20 concurrent wrong passwords through both, 5 hashed in all, 15 refused', async () => {
    const before = (await hashes(instances[0])) + (await hashes(instances[1]));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => post(instances[i % 2], 'target', `guess-${i}`, '10.90.0.1')),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    // Each instance refused at least half of its ten: neither counted on its own.
    for (const k of [0, 1])
      expect(answers.filter((a, i) => i % 2 === k && a.status === 429).length).toBeGreaterThanOrEqual(5);
    const after = (await hashes(instances[0])) + (await hashes(instances[1]));
    expect(after - before).toBe(5);
    // Exactly one lockout logged, by whichever instance counted the fifth failure.
    await eventually(() => instances.some((i) => i.events().some((e) => e.event === 'login_locked_out')));
    const locked = instances.flatMap((i) => i.events().filter((e) => e.event === 'login_locked_out'));
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ kind: 'user', username: 'target', address: '10.90.0.1', failures: 5 });
  });

  it('a lockout listed on one instance is cleared on the other', async () => {
    const [a, b] = instances;
    const warden = await post(a, 'warden', 'warden-cluster-pass', '10.90.0.9');
    expect(warden.status).toBe(200);
    for (const instance of [a, b]) {
      const res = await fetch(`${instance.baseUrl}/admin/lockouts`, { headers: { cookie: warden.cookie } });
      const { lockouts } = (await res.json()) as { lockouts: LockoutBody[] };
      expect(lockouts.map((l) => [l.username, l.address, l.failures])).toEqual([['target', '10.90.0.1', 5]]);
    }
    expect((await post(a, 'target', 'target-cluster-pass', '10.90.0.1')).status).toBe(429);
    const cleared = await fetch(`${b.baseUrl}/admin/lockouts?username=target&address=10.90.0.1`, {
      method: 'DELETE',
      headers: { cookie: warden.cookie, 'x-csrftoken': warden.csrf },
    });
    expect(cleared.status).toBe(200);
    expect((await post(a, 'target', 'target-cluster-pass', '10.90.0.1')).status).toBe(200);
    const unlocked = b.events().find((e) => e.event === 'login_unlocked');
    expect(unlocked).toMatchObject({
      actor: 'warden',
      username: 'target',
      address: '10.90.0.1',
      lockouts: 1,
    });
  });
});

// ---------------------------------------------------------------------------------------------
const describeBrowser = chromiumAvailable() ? describe : describe.skip;

describeBrowser('the Lockouts view of the console in Chromium', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    t = await startApp({ TRUST_PROXY: 'true', LOGIN_MAX_FAILURES: '2' });
    await createUser(t, { username: 'root', password: 'root-console-pass', isStaff: true });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function lockOut(username: string, address: string) {
    for (let i = 0; i < 2; i++) {
      const anon = await anonymousCsrf(t);
      await request(t.baseUrl)
        .post('/auth/login')
        .set('X-Forwarded-For', address)
        .set('Cookie', anon.cookie)
        .set('X-CSRFToken', anon.csrf)
        .send({ username, password: 'wrong' })
        .expect(401);
    }
  }

  async function consoleAt(width: number, height: number): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width, height } })).newPage();
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', 'root');
    await page.fill('input[name=password]', 'root-console-pass');
    await page.click('button[type=submit]');
    await page.locator('#view[data-tab]').waitFor({ timeout: 10_000 });
    await page.click('a[href="#lockouts"]');
    await page.locator('#view[data-tab="lockouts"]').waitFor({ timeout: 10_000 });
    return page;
  }

  for (const [size, width, height] of [
    ['desktop', 1280, 900],
    ['phone', 390, 844],
  ] as const)
    it(`lists a lockout and unlocks it with its button (${size})`, async () => {
      const username = `mallory-${size}`;
      await lockOut(username, '10.99.0.1');
      const page = await consoleAt(width, height);
      const row = page.locator(`tr[data-lockout="${username}@10.99.0.1"]`);
      await row.waitFor({ timeout: 10_000 });
      expect(await row.locator('td').nth(0).textContent()).toBe(`${username} from 10.99.0.1`);
      expect(await row.locator('td').nth(1).textContent()).toBe('2');
      const button = row.getByRole('button', { name: `Unlock ${username} from 10.99.0.1` });
      // The table fits: nothing to scroll sideways, the button within the viewport.
      const section = page.locator('section', { has: row });
      expect(await section.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
      const box = await button.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= width).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, `admin-lockouts-${size}.png`), fullPage: true });
      await button.click();
      await page
        .getByText(`Unlocked ${username} from 10.99.0.1: 2 failed logins cleared.`)
        .waitFor({ timeout: 10_000 });
      await row.waitFor({ state: 'detached', timeout: 10_000 });
      const session = await login(t, 'root', 'root-console-pass');
      const after = await request(t.baseUrl).get('/admin/lockouts').set('Cookie', session.cookie).expect(200);
      expect((after.body.lockouts as LockoutBody[]).filter((l) => l.username === username)).toEqual([]);
      await page.context().close();
    }, 60_000);

  it('unlocks by the form, for a username from every address', async () => {
    await lockOut('trudy', '10.99.0.2');
    await lockOut('trudy', '10.99.0.3');
    const page = await consoleAt(1280, 900);
    await page.locator('tr[data-lockout="trudy@10.99.0.3"]').waitFor({ timeout: 10_000 });
    await page.locator('#unlock input[name=username]').fill('trudy');
    await page.locator('#unlock button[type=submit]').click();
    await page.getByText('Unlocked trudy: 4 failed logins cleared.').waitFor({ timeout: 10_000 });
    await page.locator('#no-lockouts').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'admin-lockouts-cleared.png'), fullPage: true });
    await page.context().close();
  }, 60_000);
});
