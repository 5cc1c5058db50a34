import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Arbitrary constant: the PostgreSQL advisory lock key that serialises live's migrations. */
const MIGRATION_LOCK_KEY = 727_274_001;

/**
 * Applies pending migrations. Several instances starting at once against one PostgreSQL database
 * take turns through an advisory lock, so each migration runs exactly once.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const logger = new Logger('Migrations');
  const postgres = dataSource.options.type === 'postgres';
  const lockRunner = postgres ? dataSource.createQueryRunner() : null;
  try {
    if (lockRunner) {
      await lockRunner.connect();
      await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const m of applied) logger.log({ event: 'migration_applied', name: m.name });
    return applied.map((m) => m.name);
  } finally {
    if (lockRunner) {
      await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await lockRunner.release();
    }
  }
}
