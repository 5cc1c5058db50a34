import { createTestDatabase } from './app';

export interface DatabaseVariant {
  name: 'sqlite' | 'postgres';
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

/** SQLite always; PostgreSQL when global-setup found it (always in CI). */
export function databaseVariants(): DatabaseVariant[] {
  if (process.env.LIVE_TEST_PG === '1') return [sqlite, postgres];
  console.warn('[live tests] PostgreSQL variant skipped: PostgreSQL not reachable');
  return [sqlite];
}
