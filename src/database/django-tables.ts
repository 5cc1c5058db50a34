import { QueryRunner } from 'typeorm';

/**
 * The tables live shares with Django (auth_user, auth_group, auth_user_groups, django_session), as
 * Django 3.2's `migrate` leaves them: the statements below are what Django made on each engine,
 * copied from `sqlite_master` and `pg_dump --schema-only` (constraint and index names included, so
 * `pg_dump` of a live database and of a Django one agree). Django sets no column defaults in the
 * database; its foreign keys are DEFERRABLE INITIALLY DEFERRED without ON DELETE (Django deletes
 * related rows itself), which is why UsersService removes a user's memberships before the user.
 */
const SQLITE: readonly string[] = [
  'CREATE TABLE "auth_group" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(150) NOT NULL UNIQUE)',
  'CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, ' +
    '"last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, ' +
    '"last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, ' +
    '"is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL)',
  'CREATE TABLE "auth_user_groups" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, ' +
    '"user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED, ' +
    '"group_id" integer NOT NULL REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED)',
  'CREATE UNIQUE INDEX "auth_user_groups_user_id_group_id_94350c0c_uniq" ON "auth_user_groups" ("user_id", "group_id")',
  'CREATE INDEX "auth_user_groups_user_id_6a12ed8b" ON "auth_user_groups" ("user_id")',
  'CREATE INDEX "auth_user_groups_group_id_97559544" ON "auth_user_groups" ("group_id")',
  'CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, ' +
    '"expire_date" datetime NOT NULL)',
  'CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")',
];

const POSTGRES: readonly string[] = [
  'CREATE TABLE "auth_group" ("id" serial NOT NULL PRIMARY KEY, "name" varchar(150) NOT NULL UNIQUE)',
  'CREATE INDEX "auth_group_name_a6ea08ec_like" ON "auth_group" ("name" varchar_pattern_ops)',
  'CREATE TABLE "auth_user" ("id" serial NOT NULL PRIMARY KEY, "password" varchar(128) NOT NULL, ' +
    '"last_login" timestamp with time zone NULL, "is_superuser" boolean NOT NULL, ' +
    '"username" varchar(150) NOT NULL UNIQUE, "first_name" varchar(150) NOT NULL, ' +
    '"last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" boolean NOT NULL, ' +
    '"is_active" boolean NOT NULL, "date_joined" timestamp with time zone NOT NULL)',
  'CREATE INDEX "auth_user_username_6821ab7c_like" ON "auth_user" ("username" varchar_pattern_ops)',
  'CREATE TABLE "auth_user_groups" ("id" serial NOT NULL PRIMARY KEY, "user_id" integer NOT NULL, "group_id" integer NOT NULL)',
  'ALTER TABLE "auth_user_groups" ADD CONSTRAINT "auth_user_groups_user_id_group_id_94350c0c_uniq" UNIQUE ("user_id", "group_id")',
  'ALTER TABLE "auth_user_groups" ADD CONSTRAINT "auth_user_groups_user_id_6a12ed8b_fk_auth_user_id" ' +
    'FOREIGN KEY ("user_id") REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED',
  'ALTER TABLE "auth_user_groups" ADD CONSTRAINT "auth_user_groups_group_id_97559544_fk_auth_group_id" ' +
    'FOREIGN KEY ("group_id") REFERENCES "auth_group" ("id") DEFERRABLE INITIALLY DEFERRED',
  'CREATE INDEX "auth_user_groups_user_id_6a12ed8b" ON "auth_user_groups" ("user_id")',
  'CREATE INDEX "auth_user_groups_group_id_97559544" ON "auth_user_groups" ("group_id")',
  'CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, ' +
    '"expire_date" timestamp with time zone NOT NULL)',
  'CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")',
  'CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops)',
];

export type DjangoTable = 'auth_group' | 'auth_user' | 'auth_user_groups' | 'django_session';

/** Django's statements for `table` on this engine (the table, then its indexes and constraints). */
export function djangoTableStatements(queryRunner: QueryRunner, table: DjangoTable): string[] {
  const all = isPostgres(queryRunner) ? POSTGRES : SQLITE;
  return all.filter((sql) => statementTable(sql) === table);
}

function statementTable(sql: string): string {
  const match =
    /^(?:CREATE TABLE|ALTER TABLE) "([a-z_]+)"|^CREATE (?:UNIQUE )?INDEX "[a-z0-9_]+" ON "([a-z_]+)"/.exec(
      sql,
    );
  return match ? (match[1] ?? match[2]) : '';
}

export function isPostgres(queryRunner: QueryRunner): boolean {
  return queryRunner.connection.options.type === 'postgres';
}

/**
 * Whether Django manages this database's auth tables: its `django_migrations` shows both the
 * `auth` and the `sessions` app applied. live then uses Django's tables as they are and never
 * creates, alters or drops them.
 */
export async function djangoOwnsAuthTables(queryRunner: QueryRunner): Promise<boolean> {
  if (!(await queryRunner.hasTable('django_migrations'))) return false;
  const rows = (await queryRunner.query(
    `SELECT DISTINCT app FROM django_migrations WHERE app IN ('auth', 'sessions')`,
  )) as { app: string }[];
  return rows.length === 2;
}

/** The columns live reads and writes in Django's tables: a project with another user model has no use for live. */
export const REQUIRED_COLUMNS: Readonly<Record<'auth_user' | 'django_session', readonly string[]>> = {
  auth_user: [
    'id',
    'password',
    'last_login',
    'is_superuser',
    'username',
    'first_name',
    'last_name',
    'email',
    'is_staff',
    'is_active',
    'date_joined',
  ],
  django_session: ['session_key', 'session_data', 'expire_date'],
};

/** Django's tables are not what live works with: starting again will not help. */
export class IncompatibleDjangoDatabase extends Error {
  override readonly name = 'IncompatibleDjangoDatabase';
}

/** What is missing from Django's tables for live to work with them (empty: nothing). */
export async function missingDjangoColumns(queryRunner: QueryRunner): Promise<string[]> {
  const missing: string[] = [];
  for (const [table, columns] of Object.entries(REQUIRED_COLUMNS)) {
    const found = await queryRunner.getTable(table);
    if (!found) {
      missing.push(`table ${table}`);
      continue;
    }
    const names = new Set(found.columns.map((c) => c.name));
    for (const column of columns) if (!names.has(column)) missing.push(`${table}.${column}`);
  }
  return missing;
}
