import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

/**
 * Runs once before all suites: finds which services answer and records it in the environment
 * (LIVE_TEST_PG=1). In CI a missing service fails the run here, loudly, instead of skipping.
 */
export default async function globalSetup(): Promise<void> {
  buildOnce();
  const pgUrl = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    process.env.LIVE_TEST_PG = '1';
  } catch (err) {
    if (process.env.CI === 'true')
      throw new Error(`CI needs PostgreSQL at ${pgUrl}: ${(err as Error).message}`);
    process.env.LIVE_TEST_PG = '0';
    console.warn(
      `\n[live tests] PostgreSQL not reachable (${(err as Error).message}): PostgreSQL suites will be skipped.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }

  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    process.env.LIVE_TEST_REDIS = '1';
  } catch (err) {
    if (process.env.CI === 'true')
      throw new Error(`CI needs Redis at ${redisUrl}: ${(err as Error).message}`);
    process.env.LIVE_TEST_REDIS = '0';
    console.warn(
      `\n[live tests] Redis not reachable (${(err as Error).message}): cluster suites will be skipped.`,
    );
  } finally {
    redis.disconnect();
  }
}

/**
 * Compiles src/ once for the suites that start real live processes (cluster instances, manage
 * commands): `node` on compiled JavaScript starts in about a second, ts-node in about five.
 */
function buildOnce(): void {
  const root = resolve(__dirname, '..', '..');
  const outDir = resolve(root, '.test-build');
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], {
    cwd: root,
    stdio: 'inherit',
    timeout: 180_000,
  });
  process.env.LIVE_TEST_BUILD = outDir;
}
