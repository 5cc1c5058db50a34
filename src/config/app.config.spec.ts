import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig, parseDatabaseUrl } from './app.config';

describe('AppConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'live-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has Django-like defaults and generates a secret once, mode 600', () => {
    const a = new AppConfig({ DATA_DIR: dir });
    expect(a.host).toBe('127.0.0.1');
    expect(a.port).toBe(8000);
    expect(a.database).toEqual({ type: 'sqlite', path: join(dir, 'db.sqlite3'), synchronous: 'normal' });
    expect(a.secretKey.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir, 'secret_key')).mode & 0o777).toBe(0o600);
    expect(new AppConfig({ DATA_DIR: dir }).secretKey).toBe(a.secretKey);
    expect(readFileSync(join(dir, 'secret_key'), 'utf8').trim()).toBe(a.secretKey);
  });

  it('refuses bad values with the variable name', () => {
    expect(() => new AppConfig({ DATA_DIR: dir, PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => new AppConfig({ DATA_DIR: dir, DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must be/);
    expect(() => new AppConfig({ DATA_DIR: dir, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
    expect(() => new AppConfig({ DATA_DIR: dir, TRUST_PROXY: 'maybe' })).toThrow(/TRUST_PROXY/);
    expect(() => new AppConfig({ DATA_DIR: dir, TRUST_PROXY: '12' })).toThrow(/TRUST_PROXY/);
    expect(() => new AppConfig({ DATA_DIR: dir, TRUST_PROXY: '10.0.0.1/33' })).toThrow(/TRUST_PROXY/);
    expect(new AppConfig({ DATA_DIR: dir, TRUST_PROXY: 'true' }).trustProxy).toBe(1);
    expect(new AppConfig({ DATA_DIR: dir, TRUST_PROXY: 'off' }).trustProxy).toBe(0);
    expect(new AppConfig({ DATA_DIR: dir, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(new AppConfig({ DATA_DIR: dir }).trustProxy).toBe(0);
    expect(new AppConfig({ DATA_DIR: dir, TRUST_PROXY: '10.0.0.0/8,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
    ]);
    for (const name of ['LOGIN_MAX_FAILURES', 'LOGIN_MAX_FAILURES_PER_ADDRESS', 'LOGIN_FAILURE_WINDOW'])
      for (const bad of ['0', '-1', '1.5', 'many', '99999999'])
        expect(() => new AppConfig({ DATA_DIR: dir, [name]: bad })).toThrow(new RegExp(`${name} must be`));
    expect(new AppConfig({ DATA_DIR: dir }).loginMaxFailuresPerAddress).toBe(50);
    expect(() => new AppConfig({ DATA_DIR: dir, SECRET_KEY: 'short' })).toThrow(/SECRET_KEY/);
    expect(() => new AppConfig({ DATA_DIR: dir, SQLITE_SYNCHRONOUS: 'off' })).toThrow(
      /SQLITE_SYNCHRONOUS must be normal or full/,
    );
    for (const bad of ['0', '65', 'two', '1.5'])
      expect(() => new AppConfig({ DATA_DIR: dir, PASSWORD_HASH_THREADS: bad })).toThrow(
        /PASSWORD_HASH_THREADS must be an integer between 1 and 64/,
      );
  });

  it('hashes passwords on one core fewer than the machine has, unless PASSWORD_HASH_THREADS says', () => {
    expect(new AppConfig({ DATA_DIR: dir }).passwordHashThreads).toBe(
      Math.max(1, availableParallelism() - 1),
    );
    expect(new AppConfig({ DATA_DIR: dir, PASSWORD_HASH_THREADS: '3' }).passwordHashThreads).toBe(3);
  });

  it('bounds every wait on the database: defaults of a few seconds, configurable, validated', () => {
    expect(new AppConfig({ DATA_DIR: dir }).databaseTimeouts).toEqual({
      connectMs: 3000,
      queryMs: 5000,
      poolAcquireMs: 3000,
    });
    const custom = new AppConfig({
      DATA_DIR: dir,
      DATABASE_CONNECT_TIMEOUT_MS: '1500',
      DATABASE_QUERY_TIMEOUT_MS: '2500',
      DATABASE_POOL_ACQUIRE_TIMEOUT_MS: '1000',
    });
    expect(custom.databaseTimeouts).toEqual({ connectMs: 1500, queryMs: 2500, poolAcquireMs: 1000 });
    for (const name of [
      'DATABASE_CONNECT_TIMEOUT_MS',
      'DATABASE_QUERY_TIMEOUT_MS',
      'DATABASE_POOL_ACQUIRE_TIMEOUT_MS',
    ])
      for (const bad of ['0', '-1', '99', 'soon', '1.5', '600001'])
        expect(() => new AppConfig({ DATA_DIR: dir, [name]: bad })).toThrow(
          new RegExp(`${name} must be an integer between 100 and 600000`),
        );
  });

  it('parses the DATABASE_URL forms', () => {
    expect(parseDatabaseUrl('sqlite:///tmp/x.db', dir)).toEqual({ type: 'sqlite', path: '/tmp/x.db' });
    expect(parseDatabaseUrl('sqlite:/tmp/y.db', dir)).toEqual({ type: 'sqlite', path: '/tmp/y.db' });
    expect(parseDatabaseUrl('sqlite:rel.db', dir)).toEqual({
      type: 'sqlite',
      path: join(process.cwd(), 'rel.db'),
    });
    expect(parseDatabaseUrl('postgres://u@h:5432/d', dir)).toEqual({
      type: 'postgres',
      url: 'postgres://u@h:5432/d',
    });
  });

  it('matches ALLOWED_HOSTS like Django', () => {
    const c = new AppConfig({ DATA_DIR: dir, ALLOWED_HOSTS: 'example.org,.live.test,[::1]' });
    expect(c.isAllowedHost('example.org:8000')).toBe(true);
    expect(c.isAllowedHost('chat.live.test')).toBe(true);
    expect(c.isAllowedHost('live.test')).toBe(true);
    expect(c.isAllowedHost('[::1]:8000')).toBe(true);
    expect(c.isAllowedHost('evil.org')).toBe(false);
    expect(c.isAllowedHost('notlive.test')).toBe(false);
  });
});
