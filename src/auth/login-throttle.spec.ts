import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { OpsEvent, OpsEvents } from '../common/ops-events';
import { AppConfig } from '../config/app.config';
import { CreateLoginFailures1764000007000 } from '../database/migrations/1764000007000-CreateLoginFailures';
import { LoginFailure } from './lockouts/login-failure.entity';
import { LoginFailureStore } from './lockouts/login-failure.store';
import { LoginAttempt, LoginThrottle, ThrottleVerdict } from './login-throttle';

/** The throttle on its real store, over a throwaway SQLite database made by the real migration. */
async function failureDatabase(): Promise<DataSource> {
  const db = await new DataSource({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: [LoginFailure],
    migrations: [CreateLoginFailures1764000007000],
  }).initialize();
  await db.runMigrations();
  return db;
}

const T0 = 1_800_000_000_000;
const WINDOW_S = 900;

describe('LoginThrottle', () => {
  let db: DataSource;
  let throttle: LoginThrottle;
  let events: OpsEvent[];
  let warn: jest.SpyInstance;

  const make = (perPair = 5, perAddress = 8) => {
    const config = {
      loginMaxFailures: perPair,
      loginMaxFailuresPerAddress: perAddress,
      loginFailureWindowSeconds: WINDOW_S,
    } as AppConfig;
    const bus = new OpsEvents();
    bus.subscribe((e) => void events.push(e));
    return new LoginThrottle(config, new LoginFailureStore(db), bus);
  };
  const allowed = (v: ThrottleVerdict): LoginAttempt => {
    if (!v.allowed) throw new Error(`throttled for ${v.retryAfterSeconds} s`);
    return v.attempt;
  };
  /** A wrong password: reserved, then confirmed as a failure. */
  const fail = async (username: string, address: string, at: number) =>
    throttle.failed(allowed(await throttle.reserve(username, address, at)));
  const flush = () => new Promise((r) => setImmediate(r)); // OpsEvents delivers on a microtask

  beforeEach(async () => {
    db = await failureDatabase();
    events = [];
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
    throttle = make();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await db.destroy();
  });

  it('lets at most LOGIN_MAX_FAILURES of many concurrent guesses for one pair be checked', async () => {
    const verdicts = await Promise.all(
      Array.from({ length: 20 }, () => throttle.reserve('dave', '10.3.0.1', T0)),
    );
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    // Each counted its own place: 1..5, no two the same.
    const places = verdicts.flatMap((v) => (v.allowed ? [v.attempt.pairFailures] : [])).sort();
    expect(places).toEqual([1, 2, 3, 4, 5]);
    expect(await db.getRepository(LoginFailure).count()).toBe(5);
  });

  it('locks the pair only: the same user from elsewhere and another user from here still get through', async () => {
    for (let i = 0; i < 5; i++) await fail('alice', '10.0.0.1', T0 + i * 1000);
    expect(await throttle.reserve('alice', '10.0.0.1', T0 + 10_000)).toEqual({
      allowed: false,
      // The first failure leaves the window 900 s after it: 890 s from now.
      retryAfterSeconds: 890,
    });
    expect((await throttle.reserve('alice', '10.0.0.2', T0 + 10_000)).allowed).toBe(true);
    expect((await throttle.reserve('bob', '10.0.0.1', T0 + 10_000)).allowed).toBe(true);
    // Once the oldest failure has left the window, one more try.
    expect((await throttle.reserve('alice', '10.0.0.1', T0 + WINDOW_S * 1000 + 1)).allowed).toBe(true);
  });

  it('locks a whole address at its ceiling (LOGIN_MAX_FAILURES_PER_ADDRESS), not another address', async () => {
    for (let i = 0; i < 4; i++) await fail('alice', '10.1.0.1', T0);
    for (let i = 0; i < 3; i++) await fail('bob', '10.1.0.1', T0);
    // Seven failures from the address: carol may still try, and her failure is the eighth.
    await fail('carol', '10.1.0.1', T0);
    expect((await throttle.reserve('dave', '10.1.0.1', T0 + 1)).allowed).toBe(false);
    expect((await throttle.reserve('dave', '10.1.0.2', T0 + 1)).allowed).toBe(true);
  });

  it('a right password takes its reservation back and clears the pair; others keep their failures', async () => {
    for (let i = 0; i < 4; i++) await fail('erin', '10.4.0.1', T0);
    await fail('frank', '10.4.0.1', T0);
    await throttle.succeeded(allowed(await throttle.reserve('erin', '10.4.0.1', T0 + 1)));
    const rows = await db.getRepository(LoginFailure).find();
    expect(rows.map((r) => r.username)).toEqual(['frank']);
  });

  it('an attempt the database could not decide does not count', async () => {
    for (let i = 0; i < 10; i++)
      await throttle.release(allowed(await throttle.reserve('gina', '10.5.0.1', T0 + i)));
    expect(await db.getRepository(LoginFailure).count()).toBe(0);
  });

  it('logs and raises auth.lockout once, by the failure that filled the limit', async () => {
    for (let i = 0; i < 4; i++) await fail('hank', '10.6.0.1', T0 + i);
    await flush();
    expect(events).toEqual([]);
    await fail('hank', '10.6.0.1', T0 + 4);
    await flush();
    expect(events).toEqual([
      expect.objectContaining({
        event: 'auth.lockout',
        severity: 'warning',
        subject: 'Logins locked for hank from 10.6.0.1',
        dedupeKey: 'auth.lockout:hank@10.6.0.1',
      }),
    ]);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ event: 'login_locked_out', kind: 'user', username: 'hank', failures: 5 }),
    );
    // Three more from another user fill the address's ceiling of eight.
    for (let i = 0; i < 3; i++) await fail('ivy', '10.6.0.1', T0 + 10);
    await flush();
    expect(events.map((e) => [e.subject, e.dedupeKey])).toEqual([
      ['Logins locked for hank from 10.6.0.1', 'auth.lockout:hank@10.6.0.1'],
      ['Logins locked for every username from 10.6.0.1', 'auth.lockout:10.6.0.1'],
    ]);
  });

  it('lists lockouts and unlocks a pair, a username, an address, or a value that is either', async () => {
    for (let i = 0; i < 5; i++) await fail('jack', '10.7.0.1', T0 + i);
    for (let i = 0; i < 5; i++) await fail('jack', '10.7.0.2', T0 + i);
    for (let i = 0; i < 5; i++) await fail('kate', '10.7.0.3', T0 + i);
    for (let i = 0; i < 3; i++) await fail('liam', '10.7.0.3', T0 + 5);
    const listed = await throttle.lockouts(T0 + 10);
    expect(listed).toEqual([
      {
        username: null,
        address: '10.7.0.3',
        failures: 8,
        lastFailureAt: T0 + 5,
        lockedUntil: T0 + WINDOW_S * 1000,
      },
      expect.objectContaining({ username: 'jack', address: '10.7.0.1', failures: 5 }),
      expect.objectContaining({ username: 'jack', address: '10.7.0.2', failures: 5 }),
      {
        username: 'kate',
        address: '10.7.0.3',
        failures: 5,
        lastFailureAt: T0 + 4,
        lockedUntil: T0 + WINDOW_S * 1000,
      },
    ]);
    await flush();
    events.length = 0;

    const pair = await throttle.unlock({ username: 'jack', address: '10.7.0.1' }, 'root', T0 + 10);
    expect(pair).toEqual({
      lockouts: [expect.objectContaining({ username: 'jack', address: '10.7.0.1' })],
      failuresCleared: 5,
    });
    expect((await throttle.reserve('jack', '10.7.0.1', T0 + 11)).allowed).toBe(true);
    expect((await throttle.reserve('jack', '10.7.0.2', T0 + 11)).allowed).toBe(false);

    // The address: its own lockout and every pair from it.
    const address = await throttle.unlock({ address: '10.7.0.3' }, 'root', T0 + 12);
    expect(address.lockouts.map((l) => l.username)).toEqual([null, 'kate']);
    expect(address.failuresCleared).toBe(8);
    expect((await throttle.reserve('kate', '10.7.0.3', T0 + 13)).allowed).toBe(true);

    // manage unlock VALUE: a username or an address, whichever it is.
    const either = await throttle.unlock({ either: 'jack' }, 'manage', T0 + 14);
    expect(either.lockouts.map((l) => l.address)).toEqual(['10.7.0.2']);
    expect(await throttle.lockouts(T0 + 15)).toEqual([]);

    // Nothing locked: cleared quietly, no alert.
    expect(await throttle.unlock({ username: 'nobody' }, 'root', T0 + 16)).toEqual({
      lockouts: [],
      failuresCleared: 0,
    });
    await flush();
    expect(events.map((e) => [e.severity, e.subject, e.dedupeKey])).toEqual([
      ['info', 'Logins unlocked for jack from 10.7.0.1 by root', 'auth.lockout:unlocked:jack from 10.7.0.1'],
      ['info', 'Logins unlocked for 10.7.0.3 by root', 'auth.lockout:unlocked:10.7.0.3'],
      ['info', 'Logins unlocked for jack by manage', 'auth.lockout:unlocked:jack'],
    ]);
  });

  it('says an unlock of a pair lifted its address too when that brought the address under its ceiling', async () => {
    for (let i = 0; i < 5; i++) await fail('mona', '10.8.0.1', T0);
    for (let i = 0; i < 3; i++) await fail('ned', '10.8.0.1', T0);
    const result = await throttle.unlock({ username: 'mona', address: '10.8.0.1' }, 'root', T0 + 1);
    expect(result.lockouts.map((l) => [l.username, l.address])).toEqual([
      [null, '10.8.0.1'],
      ['mona', '10.8.0.1'],
    ]);
    expect((await throttle.reserve('ned', '10.8.0.1', T0 + 2)).allowed).toBe(true);
  });

  it('counts keys longer than the columns by their first characters', async () => {
    const long = 'u'.repeat(400);
    for (let i = 0; i < 5; i++) await fail(long, 'a'.repeat(300), T0);
    expect((await throttle.reserve(`${long}x`, `${'a'.repeat(300)}y`, T0)).allowed).toBe(false);
  });
});
