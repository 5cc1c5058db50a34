import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import { Session } from '../src/auth/session.entity';
import { newSessionKey, SessionStore } from '../src/auth/session.store';
import { User } from '../src/auth/user.entity';
import { SessionWatch } from '../src/chat/session-watch';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser } from './support/users';
import { eventually, openWs, WsClient } from './support/ws';

/** The numbers the README quotes, printed once at the end. */
const measured: string[] = [];
afterAll(() => {
  if (measured.length > 0)
    process.stdout.write(`\nsession re-check measurements:\n  ${measured.join('\n  ')}\n`);
});

const SOCKETS = 1000;
const USERS = 100;

/**
 * What the periodic re-check of the sessions behind open sockets costs: with SOCKETS logged-in
 * sockets on as many sessions of USERS users, each re-check is two reads and string comparisons
 * (nothing changed), measured by the watch itself; and the same read for 20,000 sessions directly.
 */
describe.each(databaseVariants())('the session re-check’s cost on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  const open: WsClient[] = [];

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, CHAT_RETENTION_CRON: 'off', CHAT_HISTORY_DEFAULT: '0' });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
    await t?.close();
    await teardownDb?.();
  }, 60_000);

  it(`${SOCKETS} logged-in sockets on ${SOCKETS} sessions: each re-check reads them in a few ms, and nothing closes`, async () => {
    const sessions = t.app.get(SessionStore);
    const users: User[] = [];
    for (let i = 0; i < USERS; i++) users.push(await createUser(t, { username: `load${i}`, password: 'pw' }));
    const keys: string[] = [];
    for (let i = 0; i < SOCKETS; i++) keys.push((await sessions.create(users[i % USERS])).sessionKey);
    const name = t.config.sessionCookieName;
    for (let i = 0; i < SOCKETS; i += 50)
      open.push(
        ...(await Promise.all(
          keys.slice(i, i + 50).map((key, j) =>
            openWs(`ws://127.0.0.1:${t.port}/chat/load${(i + j) % 10}/`, {
              headers: { cookie: `${name}=${key}` },
            }),
          ),
        )),
      );
    const watch = t.app.get(SessionWatch);
    await eventually(() => watch.lastRecheck?.sessions === SOCKETS, 10_000);
    // Steady state: the first re-check verified every session once; the next ones compare strings.
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const samples: number[] = [];
    let last = watch.lastRecheck;
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      if (watch.lastRecheck !== last && watch.lastRecheck) samples.push((last = watch.lastRecheck).ms);
    }
    delay.disable();
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)];
    measured.push(
      `${variant.name}: ${SOCKETS} sockets/sessions, ${USERS} users: ${samples.length} re-checks in 5 s, ` +
        `median ${median.toFixed(1)} ms, max ${samples[samples.length - 1].toFixed(1)} ms; ` +
        `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
    );
    expect(samples.length).toBeGreaterThanOrEqual(4); // every CHAT_SESSION_RECHECK_MS (800 ms)
    expect(median).toBeLessThan(100);
    expect(open.every((c) => c.ws.readyState === c.ws.OPEN)).toBe(true);
    // The next test calls SessionStore.recheck itself: the watch, its one caller, must be idle.
    await Promise.all(open.splice(0).map((c) => c.close()));
  }, 120_000);

  it('the same read for 20,000 sessions, called directly: the first (verifying every one) and the next (nothing changed)', async () => {
    const sessions = t.app.get(SessionStore);
    const user = await createUser(t, { username: 'many', password: 'pw' });
    // One real login's signed data under 20,000 keys (the data does not name its key): bulk inserts.
    const template = await sessions.create(user);
    const repo = t.app.get(DataSource).getRepository(Session);
    const keys: string[] = [template.sessionKey];
    while (keys.length < 20_000) {
      const rows = Array.from({ length: Math.min(1000, 20_000 - keys.length) }, () => ({
        ...template,
        sessionKey: newSessionKey(),
      }));
      await repo.insert(rows);
      keys.push(...rows.map((r) => r.sessionKey));
    }
    const time = async () => {
      const started = performance.now();
      const holders = await sessions.recheck(keys);
      const ms = performance.now() - started;
      expect([...holders.values()].every((id) => id === user.id)).toBe(true);
      return ms;
    };
    const first = await time();
    const steady: number[] = [];
    for (let i = 0; i < 5; i++) steady.push(await time());
    steady.sort((a, b) => a - b);
    measured.push(
      `${variant.name}: 20000 sessions read directly: first ${first.toFixed(0)} ms (every signature verified), ` +
        `then median ${steady[2].toFixed(0)} ms (nothing changed)`,
    );
    expect(steady[2]).toBeLessThan(first);
    // Staff's "log out everywhere" for that user: every unexpired session read and decoded.
    const other = await createUser(t, { username: 'someone', password: 'pw' });
    await sessions.create(other);
    let started = performance.now();
    expect(await sessions.endAllOf(other.id)).toBe(1);
    const scanOne = performance.now() - started;
    started = performance.now();
    expect(await sessions.endAllOf(user.id)).toBe(20_000);
    const scanAll = performance.now() - started;
    measured.push(
      `${variant.name}: log out everywhere among 20001 sessions: ${scanOne.toFixed(0)} ms for a user with 1, ` +
        `${scanAll.toFixed(0)} ms for the one with 20000`,
    );
  }, 300_000);
});
