import { Logger } from '@nestjs/common';
import { MigrationInterface, QueryRunner } from 'typeorm';
import { SESSION_SALT, sessionAuthHash, signObject } from '../../auth/django-signing';
import {
  djangoOwnsAuthTables,
  djangoTableStatements,
  DjangoTable,
  isPostgres,
  REQUIRED_COLUMNS,
} from '../django-tables';

/** A migration that needs SECRET_KEY; runMigrations hands it over (the TypeORM CLI does not). */
export interface NeedsSecretKey {
  secretKey: string | undefined;
}

/** live's tables before the bridge, the names they take, and their indexes (old name, new name, columns). */
const RENAMES: readonly {
  from: string;
  to: string;
  indexes: [string, string, string[]][];
  sequence?: boolean;
}[] = [
  { from: 'job_lease', to: 'live_job_lease', indexes: [] },
  {
    from: 'cert_run',
    to: 'live_cert_run',
    indexes: [['cert_run_started_at', 'live_cert_run_started_at', ['started_at']]],
    sequence: true,
  },
  {
    from: 'vpn_audit',
    to: 'live_vpn_audit',
    indexes: [['vpn_audit_at', 'live_vpn_audit_at', ['at']]],
    sequence: true,
  },
  { from: 'vpn_client', to: 'live_vpn_client', indexes: [] },
  {
    from: 'chat_message',
    to: 'live_chat_message',
    indexes: [
      ['chat_message_room_id', 'live_chat_message_room_id', ['room', 'id']],
      ['chat_message_created_at', 'live_chat_message_created_at', ['created_at']],
    ],
  },
  {
    from: 'ops_alert',
    to: 'live_ops_alert',
    indexes: [
      ['ops_alert_dedupe', 'live_ops_alert_dedupe', ['dedupe_key', 'channel', 'created_at']],
      ['ops_alert_created_at', 'live_ops_alert_created_at', ['created_at']],
    ],
    sequence: true,
  },
];

/** auth_user's columns, copied across when SQLite remakes the table. */
const AUTH_USER_COLUMNS = REQUIRED_COLUMNS.auth_user;

/**
 * Carries a database made by an earlier release over to the Django bridge's layout, without logging
 * anyone out:
 * - live's own tables get the `live_` prefix (their indexes and sequences too), so none can clash
 *   with a Django app's (the seed's `chat` app would own `chat_message`);
 * - auth_user and django_session take Django's exact shape (no column defaults, Django's constraint
 *   and index names; django_session loses live's `user_id` column), auth_group and auth_user_groups
 *   are added. Sessions still in the plain-JSON form of the first releases are signed on the way.
 * On a fresh database the earlier migrations already made all this, and on a database Django
 * manages nothing of Django's is touched: each step checks what is there first.
 */
export class DjangoBridge1764000006000 implements MigrationInterface, NeedsSecretKey {
  name = 'DjangoBridge1764000006000';
  secretKey: string | undefined = undefined;
  private readonly logger = new Logger('Migrations');

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const rename of RENAMES) {
      if ((await queryRunner.hasTable(rename.from)) && !(await queryRunner.hasTable(rename.to))) {
        await renameTable(queryRunner, rename);
      }
    }
    if (await djangoOwnsAuthTables(queryRunner)) return;
    if (await queryRunner.hasColumn('django_session', 'user_id')) {
      await this.signLegacySessions(queryRunner);
      if (isPostgres(queryRunner)) await reshapePostgres(queryRunner);
      else await reshapeSqlite(queryRunner);
    }
    for (const table of ['auth_group', 'auth_user_groups'] as const) {
      if (await queryRunner.hasTable(table)) continue;
      for (const sql of djangoTableStatements(queryRunner, table)) await queryRunner.query(sql);
    }
  }

  /**
   * The first releases wrote `{"_auth_user_id":"N"}` with the user in `user_id`; that column is
   * what vouched for the row, so before it goes each such row is signed as Django would have.
   */
  private async signLegacySessions(queryRunner: QueryRunner): Promise<void> {
    const rows = (await queryRunner.query(
      'SELECT s.session_key AS key, s.session_data AS data, u.id AS id, u.password AS password ' +
        'FROM django_session s JOIN auth_user u ON u.id = s.user_id',
    )) as { key: string; data: string; id: number; password: string }[];
    const legacy = rows.filter((row) => row.data === JSON.stringify({ _auth_user_id: String(row.id) }));
    if (legacy.length === 0) return;
    const p = (n: number) => (isPostgres(queryRunner) ? `$${n}` : '?');
    for (const row of legacy) {
      if (!this.secretKey) {
        await queryRunner.query(`DELETE FROM django_session WHERE session_key = ${p(1)}`, [row.key]);
        continue;
      }
      const data = signObject(
        {
          _auth_user_id: String(row.id),
          _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
          _auth_user_hash: sessionAuthHash(row.password, this.secretKey),
        },
        this.secretKey,
        SESSION_SALT,
      );
      await queryRunner.query(
        `UPDATE django_session SET session_data = ${p(1)} WHERE session_key = ${p(2)}`,
        [data, row.key],
      );
    }
    if (this.secretKey) this.logger.log({ event: 'legacy_sessions_signed', count: legacy.length });
    else
      this.logger.warn({
        event: 'legacy_sessions_dropped',
        count: legacy.length,
        reason: 'no SECRET_KEY given',
      });
  }

  async down(): Promise<void> {
    throw new Error(
      'DjangoBridge1764000006000 cannot be reverted: restore the backup taken before the upgrade',
    );
  }
}

async function renameTable(
  queryRunner: QueryRunner,
  { from, to, indexes, sequence }: (typeof RENAMES)[number],
): Promise<void> {
  await queryRunner.query(`ALTER TABLE "${from}" RENAME TO "${to}"`);
  for (const [oldName, newName, columns] of indexes) {
    if (isPostgres(queryRunner)) {
      await queryRunner.query(`ALTER INDEX "${oldName}" RENAME TO "${newName}"`);
    } else {
      // SQLite cannot rename an index; it follows its table, so make it again under the new name.
      await queryRunner.query(`DROP INDEX "${oldName}"`);
      await queryRunner.query(
        `CREATE INDEX "${newName}" ON "${to}" (${columns.map((c) => `"${c}"`).join(', ')})`,
      );
    }
  }
  if (sequence && isPostgres(queryRunner)) {
    await queryRunner.query(`ALTER SEQUENCE IF EXISTS "${from}_id_seq" RENAME TO "${to}_id_seq"`);
  }
}

/** SQLite cannot drop defaults or columns in place: the tables are made again, as Django itself does. */
async function reshapeSqlite(queryRunner: QueryRunner): Promise<void> {
  const copies: [DjangoTable, string[]][] = [
    ['auth_user', [...AUTH_USER_COLUMNS]],
    ['django_session', ['session_key', 'session_data', 'expire_date']],
  ];
  for (const [table, columns] of copies) {
    const [create, ...rest] = djangoTableStatements(queryRunner, table);
    const list = columns.map((c) => `"${c}"`).join(', ');
    await queryRunner.query(create.replace(`CREATE TABLE "${table}"`, `CREATE TABLE "new__${table}"`));
    await queryRunner.query(`INSERT INTO "new__${table}" (${list}) SELECT ${list} FROM "${table}"`);
    await queryRunner.query(`DROP TABLE "${table}"`);
    await queryRunner.query(`ALTER TABLE "new__${table}" RENAME TO "${table}"`);
    for (const sql of rest) await queryRunner.query(sql);
  }
  const broken = (await queryRunner.query('PRAGMA foreign_key_check')) as unknown[];
  if (broken.length > 0)
    throw new Error(`foreign key check failed after reshaping: ${JSON.stringify(broken.slice(0, 5))}`);
}

/** PostgreSQL can change the tables in place: drop what Django does not have, take Django's names. */
async function reshapePostgres(queryRunner: QueryRunner): Promise<void> {
  for (const column of ['is_superuser', 'first_name', 'last_name', 'email', 'is_staff', 'is_active']) {
    await queryRunner.query(`ALTER TABLE "auth_user" ALTER COLUMN "${column}" DROP DEFAULT`);
  }
  await renameConstraint(queryRunner, 'auth_user', 'p', 'auth_user_pkey');
  await renameConstraint(queryRunner, 'auth_user', 'u', 'auth_user_username_key');
  await queryRunner.query(
    'CREATE INDEX "auth_user_username_6821ab7c_like" ON "auth_user" ("username" varchar_pattern_ops)',
  );

  await queryRunner.query('DROP INDEX IF EXISTS "django_session_user_id"');
  await queryRunner.query('ALTER TABLE "django_session" DROP COLUMN "user_id"'); // its foreign key goes with it
  await renameConstraint(queryRunner, 'django_session', 'p', 'django_session_pkey');
  await queryRunner.query(
    'ALTER INDEX "django_session_expire_date" RENAME TO "django_session_expire_date_a5c62663"',
  );
  await queryRunner.query(
    'CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops)',
  );
}

/** Gives the table's one primary-key ('p') or unique ('u') constraint the name Django gives it. */
async function renameConstraint(
  queryRunner: QueryRunner,
  table: string,
  type: 'p' | 'u',
  name: string,
): Promise<void> {
  const rows = (await queryRunner.query(
    'SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = $2',
    [table, type],
  )) as { conname: string }[];
  if (rows.length !== 1)
    throw new Error(`${table}: expected one constraint of type ${type}, found ${rows.length}`);
  if (rows[0].conname !== name) {
    await queryRunner.query(`ALTER TABLE "${table}" RENAME CONSTRAINT "${rows[0].conname}" TO "${name}"`);
  }
}
