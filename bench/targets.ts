/**
 * The servers under test, each started as a real child process on a free loopback port and
 * stopped after the run: live (in-memory layer), live ×2 on Redis + PostgreSQL, the raw `ws`
 * baseline, Socket.IO (one process, and two on its Redis adapter), and the Django Channels reference
 * peer when it is installed.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import Redis from 'ioredis';
import { Client } from 'pg';
import { PasswordHasher } from '../src/auth/password-hasher';
import { Pbkdf2Pool } from '../src/auth/pbkdf2-pool';
import { ExecFileCommandRunner } from '../src/common/command-runner';

export const ROOT = resolve(__dirname, '..');
export const DJANGO_PEER = resolve(ROOT, '../shared/peers/django-chat/run.sh');
export const BENCH_USER = { username: 'bench', password: 'bench-password-not-secret' };

/**
 * live's flood limit (CHAT_RATE per socket per second, CHAT_BURST) would throttle a load generator
 * that sends as fast as it can: the bench raises both so it measures fan-out, not the limiter. The
 * login limits likewise: a login being checked counts against them until it is decided, so the
 * `login` scenario's 50 concurrent logins of one user from one address would otherwise be 5
 * password checks and 45 quick 429s.
 */
export const LIVE_BENCH_ENV = {
  CHAT_RATE: '1000000',
  CHAT_BURST: '1000000',
  LOGIN_MAX_FAILURES: '1000000',
  LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000',
};

export interface RunningTarget {
  /** `ws://127.0.0.1:PORT` of each instance; clients are spread over them. */
  urls: string[];
  /** HTTP base of the first instance (logins). */
  httpUrl: string;
  pids: number[];
  /** How the load generator speaks to it (runLoad's `protocol`); `plain` when unset. */
  protocol?: 'plain' | 'socketio';
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Directory for `node --cpu-prof` output of live instances; no profiling when unset. */
  cpuProfDir?: string;
  /** PBKDF2 iterations for live (the login burst uses the production default, 1,000,000). */
  passwordIterations?: number;
  /** Create BENCH_USER in live's database after start-up. */
  withUser?: boolean;
  /** Extra environment for live instances (experiments such as UV_THREADPOOL_SIZE). */
  liveEnv?: Record<string, string>;
}

export interface Target {
  name: string;
  /** Why this target cannot run here, or null. */
  unavailable(): string | null;
  start(options: TargetOptions): Promise<RunningTarget>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

interface Child {
  proc: ChildProcess;
  tail(): string;
  exited: Promise<number | null>;
}

function launch(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Child {
  const proc = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, tail: () => out };
}

/** Waits until the port answers HTTP (any status) or the child dies. */
async function waitReady(child: Child, port: number, what: string, timeoutMs = 60_000): Promise<void> {
  let dead = false;
  void child.exited.then(() => (dead = true));
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (dead) throw new Error(`${what} exited during start-up: ${child.tail().trim().slice(-1500)}`);
    try {
      await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(150);
    }
  }
  await stopChild(child);
  throw new Error(
    `${what} did not answer on port ${port} within ${timeoutMs} ms: ${child.tail().slice(-1500)}`,
  );
}

async function stopChild(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const killed = await Promise.race([child.exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!killed) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

/** Node's --cpu-prof writes on a normal exit only; Nest re-raises SIGTERM after closing, so exit(0) instead. */
const PROFILE_EXIT = resolve(__dirname, 'profile-exit.js');

function liveEnv(
  port: number,
  dataDir: string,
  o: TargetOptions,
  extra: Record<string, string>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'NODE_OPTIONS']) delete env[k];
  return {
    ...env,
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...LIVE_BENCH_ENV,
    ...(o.passwordIterations ? { PASSWORD_ITERATIONS: String(o.passwordIterations) } : {}),
    ...o.liveEnv,
    ...extra,
  };
}

function liveArgs(o: TargetOptions, name: string): string[] {
  // As `npm start` runs it (README: why the memory reducer is off).
  const nodeFlags = ['--no-memory-reducer'];
  if (!o.cpuProfDir) return [...nodeFlags, 'dist/src/main.js'];
  // One folder per process: Node writes a profile per thread (the password-hashing workers too),
  // named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the event loop.
  const dir = resolve(o.cpuProfDir, `${name}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return [...nodeFlags, '--cpu-prof', `--cpu-prof-dir=${dir}`, '-r', PROFILE_EXIT, 'dist/src/main.js'];
}

/** The SQLite form of a Date as TypeORM writes it. */
function sqliteDate(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** The bench user's password as live stores it, hashed on a pool of one thread that stops after. */
async function hashBenchPassword(passwordIterations: number): Promise<string> {
  const pool = new Pbkdf2Pool({ size: 1, commands: new ExecFileCommandRunner() });
  try {
    return await new PasswordHasher(pool, { passwordIterations }).hash(BENCH_USER.password);
  } finally {
    await pool.close();
  }
}

/** The bench user in live's PostgreSQL database (the Redis pair). */
async function createBenchUserPg(url: string, iterations: number): Promise<void> {
  const password = await hashBenchPassword(iterations);
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
       VALUES ($1, false, $2, 'Bench', 'User', '', false, true, now())`,
      [password, BENCH_USER.username],
    );
  } finally {
    await c.end();
  }
}

/** Inserts the bench user straight into live's SQLite database (there is no staff to ask the API). */
async function createBenchUser(dbPath: string, iterations: number): Promise<void> {
  const password = await hashBenchPassword(iterations);
  const db = new Database(dbPath);
  try {
    db.prepare(
      `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
       VALUES (?, 0, ?, 'Bench', 'User', '', 0, 1, ?)`,
    ).run(password, BENCH_USER.username, sqliteDate(new Date()));
  } finally {
    db.close();
  }
}

export function liveBuilt(): boolean {
  return existsSync(join(ROOT, 'dist/src/main.js'));
}

/** One `npm run build`: the children run the compiled app, as in production. */
export function buildLive(): void {
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`npm run build failed (status ${r.status})`);
}

export const liveInMemory: Target = {
  name: 'live',
  unavailable: () => (liveBuilt() ? null : 'dist/src/main.js is missing (npm run build)'),
  async start(o) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'live-bench-'));
    const child = launch(process.execPath, liveArgs(o, 'live'), liveEnv(port, dataDir, o, {}));
    try {
      await waitReady(child, port, 'live');
      if (o.withUser) await createBenchUser(join(dataDir, 'db.sqlite3'), o.passwordIterations ?? 1_000_000);
    } catch (err) {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    return {
      urls: [`ws://127.0.0.1:${port}`],
      httpUrl: `http://127.0.0.1:${port}`,
      pids: [child.proc.pid as number],
      async stop() {
        await stopChild(child);
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  },
};

const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = 'redis://127.0.0.1:6379';

async function dropDatabase(name: string): Promise<void> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Processes listening on loopback `ports`, one per child, stopped together by `stop`. */
function runningOn(ports: number[], children: Child[], stop: () => Promise<void>): RunningTarget {
  return {
    urls: ports.map((p) => `ws://127.0.0.1:${p}`),
    httpUrl: `http://127.0.0.1:${ports[0]}`,
    pids: children.map((c) => c.proc.pid as number),
    stop,
  };
}

/**
 * `count` live instances sharing a throwaway PostgreSQL database and a unique Redis prefix: the
 * pair (x2) is the default cluster target; x1 separates what Redis and PostgreSQL cost from what
 * a second instance costs.
 */
function liveRedisTarget(count: 1 | 2): Target {
  return {
    name: `live-redis-x${count}`,
    unavailable() {
      if (!liveBuilt()) return 'dist/src/main.js is missing (npm run build)';
      if (!existsSync(join(ROOT, 'dist/src/chat/redis')))
        return "live's Redis channel layer is not in this build (src/chat/redis/ does not exist yet)";
      const redis = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { timeout: 3000 });
      if (redis.stdout?.toString().trim() !== 'PONG') return 'Redis does not answer on 127.0.0.1:6379';
      return null;
    },
    async start(o) {
      const tag = `live_bench_${randomBytes(5).toString('hex')}`;
      const admin = new Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${tag}`);
      } finally {
        await admin.end();
      }
      const dbUrl = `postgres://postgres@127.0.0.1:5432/${tag}`;
      // Sessions must verify on both instances, as in a real cluster.
      const secret = randomBytes(36).toString('base64url');
      const children: Child[] = [];
      const dirs: string[] = [];
      const cleanup = async () => {
        for (const c of children) await stopChild(c);
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
        await dropDatabase(tag).catch(() => undefined);
        await deleteRedisKeys(tag).catch(() => undefined);
      };
      const ports: number[] = [];
      try {
        // One after the other: the first applies the migrations.
        for (let i = 0; i < count; i++) {
          const port = await freePort();
          const dataDir = mkdtempSync(join(tmpdir(), 'live-bench-'));
          dirs.push(dataDir);
          const env = liveEnv(port, dataDir, o, {
            DATABASE_URL: dbUrl,
            REDIS_URL,
            REDIS_PREFIX: tag,
            SECRET_KEY: secret,
          });
          const child = launch(process.execPath, liveArgs(o, `live-redis-${i}`), env);
          children.push(child);
          await waitReady(child, port, `live-redis #${i}`);
          ports.push(port);
        }
        if (o.withUser) await createBenchUserPg(dbUrl, o.passwordIterations ?? 1_000_000);
      } catch (err) {
        await cleanup();
        throw err;
      }
      return runningOn(ports, children, cleanup);
    },
  };
}
export const liveRedis = liveRedisTarget(2);

function baselineTarget(cork: boolean): Target {
  return {
    name: cork ? 'baseline-cork' : 'baseline',
    unavailable: () => null,
    async start() {
      const port = await freePort();
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const child = launch(
        process.execPath,
        [
          '-r',
          'ts-node/register/transpile-only',
          'bench/baseline-server.ts',
          String(port),
          ...(cork ? ['--cork'] : []),
        ],
        env,
      );
      await waitReady(child, port, 'baseline');
      return {
        urls: [`ws://127.0.0.1:${port}`],
        httpUrl: `http://127.0.0.1:${port}`,
        pids: [child.proc.pid as number],
        stop: () => stopChild(child),
      };
    },
  };
}

export const baseline = baselineTarget(false);

function redisAnswers(): boolean {
  const redis = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { timeout: 3000 });
  return redis.stdout?.toString().trim() === 'PONG';
}

function socketioUnavailable(redis: boolean): string | null {
  const packages = redis ? ['socket.io', '@socket.io/redis-adapter'] : ['socket.io'];
  for (const p of packages) {
    try {
      require.resolve(p, { paths: [ROOT] });
    } catch {
      return `${p} is not installed (npm install)`;
    }
  }
  if (redis && !redisAnswers()) return 'Redis does not answer on 127.0.0.1:6379';
  return null;
}

/**
 * Socket.IO v4 as a Node developer would deploy it (bench/socketio-server.ts): one process, or two
 * sharing rooms through @socket.io/redis-adapter under a unique key prefix, deleted after.
 */
function socketioTarget(redis: boolean): Target {
  return {
    name: redis ? 'socketio-redis-x2' : 'socketio',
    unavailable: () => socketioUnavailable(redis),
    async start() {
      const prefix = `sio_bench_${randomBytes(5).toString('hex')}`;
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const children: Child[] = [];
      const cleanup = async () => {
        for (const c of children) await stopChild(c);
        if (redis) await deleteRedisKeys(prefix).catch(() => undefined);
      };
      const ports: number[] = [];
      try {
        for (let i = 0; i < (redis ? 2 : 1); i++) {
          const port = await freePort();
          const child = launch(
            process.execPath,
            [
              '-r',
              'ts-node/register/transpile-only',
              'bench/socketio-server.ts',
              String(port),
              ...(redis ? ['--redis', REDIS_URL, '--prefix', prefix] : []),
            ],
            env,
          );
          children.push(child);
          await waitReady(child, port, redis ? `socketio-redis #${i}` : 'socketio');
          ports.push(port);
        }
      } catch (err) {
        await cleanup();
        throw err;
      }
      return { ...runningOn(ports, children, cleanup), protocol: 'socketio' };
    },
  };
}

function djangoUnavailable(layer: 'inmemory' | 'redis'): string | null {
  if (!existsSync(DJANGO_PEER)) return `${DJANGO_PEER} does not exist`;
  const modules = layer === 'redis' ? 'channels, daphne, channels_redis' : 'channels, daphne';
  const py = spawnSync('/usr/bin/python3', ['-c', `import ${modules}`], { timeout: 10_000 });
  if (py.status !== 0)
    return `/usr/bin/python3 cannot import ${modules} (Debian: python3-django-channels, daphne${
      layer === 'redis' ? ', python3-channels-redis' : ''
    })`;
  return null;
}

function djangoTarget(layer: 'inmemory' | 'redis'): Target {
  return {
    name: layer === 'inmemory' ? 'django' : 'django-redis',
    unavailable: () => djangoUnavailable(layer),
    async start() {
      const port = await freePort();
      const child = launch(
        DJANGO_PEER,
        [layer, String(port)],
        { ...process.env },
        resolve(DJANGO_PEER, '..'),
      );
      await waitReady(child, port, `django (${layer})`);
      return {
        urls: [`ws://127.0.0.1:${port}`],
        httpUrl: `http://127.0.0.1:${port}`,
        // run.sh execs daphne: the pid launched is the server's.
        pids: [child.proc.pid as number],
        stop: () => stopChild(child),
      };
    },
  };
}

/** The targets of a default run. */
export const TARGETS: Target[] = [
  liveInMemory,
  liveRedis,
  baseline,
  socketioTarget(false),
  socketioTarget(true),
  djangoTarget('inmemory'),
  djangoTarget('redis'),
];
/**
 * Named with --targets only: the raw ws server with write coalescing (the experiment behind a fix),
 * and one live instance on Redis and PostgreSQL.
 */
export const EXTRA_TARGETS: Target[] = [baselineTarget(true), liveRedisTarget(1)];
