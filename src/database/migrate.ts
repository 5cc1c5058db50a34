import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DatabaseModeName as DatabaseMode } from './database-mode';
import { djangoOwnsAuthTables, IncompatibleDjangoDatabase, missingDjangoColumns } from './django-tables';
import { NeedsSecretKey } from './migrations/1764000006000-DjangoBridge';

/** Arbitrary constant: the PostgreSQL advisory lock key that serialises live's migrations. */
const MIGRATION_LOCK_KEY = 727_274_001;

/**
 * Applies pending migrations. Several instances starting at once against one PostgreSQL database
 * take turns through an advisory lock, so each migration runs exactly once. `secretKey` signs the
 * sessions an old release left unsigned (DjangoBridge1764000006000). Says which mode the database
 * is in: on a database Django manages, live creates only its own `live_` tables.
 */
export async function runMigrations(
  dataSource: DataSource,
  secretKey?: string,
): Promise<{ applied: string[]; mode: DatabaseMode }> {
  const logger = new Logger('Migrations');
  const postgres = dataSource.options.type === 'postgres';
  const lockRunner = postgres ? dataSource.createQueryRunner() : null;
  try {
    if (lockRunner) {
      await lockRunner.connect();
      await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    const mode = await announceMode(dataSource, logger);
    for (const migration of dataSource.migrations) {
      if ('secretKey' in migration) (migration as NeedsSecretKey).secretKey = secretKey;
    }
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const m of applied) logger.log({ event: 'migration_applied', name: m.name });
    return { applied: applied.map((m) => m.name), mode };
  } finally {
    if (lockRunner) {
      await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await lockRunner.release();
    }
  }
}

async function announceMode(dataSource: DataSource, logger: Logger): Promise<DatabaseMode> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    if (await djangoOwnsAuthTables(queryRunner)) {
      const missing = await missingDjangoColumns(queryRunner);
      if (missing.length > 0) {
        throw new IncompatibleDjangoDatabase(
          `This database's auth tables are Django's but lack what live needs (${missing.join(', ')}): ` +
            "live works with django.contrib.auth's User and django.contrib.sessions, not a custom user model",
        );
      }
      logger.log({
        event: 'database_mode',
        mode: 'django',
        message:
          "Django manages this database (django_migrations shows auth and sessions applied): live uses Django's " +
          'auth and session tables as they are and creates only its own live_ tables',
      });
      return 'django';
    }
    logger.log({
      event: 'database_mode',
      mode: 'standalone',
      message: "live manages this database, its auth and session tables in Django's exact shape",
    });
    return 'standalone';
  } finally {
    await queryRunner.release();
  }
}
