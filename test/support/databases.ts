import Redis from 'ioredis';
import { createTestDatabase } from './app';

export interface DatabaseVariant {
  name: 'sqlite' | 'postgres' | 'postgres+redis';
  /** Extra env for startApp (DATABASE_URL) and a cleanup. */
  setup(): Promise<{ env: Record<string, string>; teardown(): Promise<void> }>;
}

const sqlite: DatabaseVariant = {
  name: 'sqlite',
  setup: async () => ({ env: {}, teardown: async () => undefined }),
};

const postgres: DatabaseVariant = {
  name: 'postgres',
  async setup() {
    const db = await createTestDatabase();
    return { env: { DATABASE_URL: db.url }, teardown: () => db.drop() };
  },
};

/** Cluster mode with one instance: PostgreSQL plus the Redis channel layer under a private key prefix. */
const postgresRedis: DatabaseVariant = {
  name: 'postgres+redis',
  async setup() {
    const db = await createTestDatabase();
    const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const prefix = `live-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    return {
      env: { DATABASE_URL: db.url, REDIS_URL: url, REDIS_PREFIX: prefix },
      async teardown() {
        await db.drop();
        const redis = new Redis(url);
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      },
    };
  },
};

/**
 * SQLite always; PostgreSQL when global-setup found it (always in CI); with `redis`, also
 * PostgreSQL + the Redis channel layer when Redis answers.
 */
export function databaseVariants(options: { redis?: boolean } = {}): DatabaseVariant[] {
  if (process.env.LIVE_TEST_PG !== '1') {
    console.warn('[live tests] PostgreSQL variant skipped: PostgreSQL not reachable');
    return [sqlite];
  }
  const withRedis = options.redis && process.env.LIVE_TEST_REDIS === '1';
  return withRedis ? [sqlite, postgres, postgresRedis] : [sqlite, postgres];
}
