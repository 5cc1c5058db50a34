import { MigrationInterface, QueryRunner, Table } from 'typeorm';
import { djangoOwnsAuthTables, djangoTableStatements, DjangoTable } from '../django-tables';

/** Django's own tables, in the order their foreign keys need. */
export const DJANGO_TABLES: readonly DjangoTable[] = [
  'auth_group',
  'auth_user',
  'auth_user_groups',
  'django_session',
];

/**
 * The auth tables exactly as Django's `migrate` makes them (see django-tables.ts) and the job lease
 * table for scheduled work. On a database Django already manages, Django's tables are left as they
 * are. (Releases before the Django bridge made auth_user and django_session in their own shape and
 * job_lease without its prefix; DjangoBridge1764000006000 carries those databases over.)
 */
export class CreateAuthTables1764000001000 implements MigrationInterface {
  name = 'CreateAuthTables1764000001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!(await djangoOwnsAuthTables(queryRunner))) {
      for (const table of DJANGO_TABLES) {
        for (const sql of djangoTableStatements(queryRunner, table)) await queryRunner.query(sql);
      }
    }
    await queryRunner.createTable(
      new Table({
        name: 'live_job_lease',
        columns: [
          { name: 'name', type: 'varchar', length: '100', isPrimary: true },
          { name: 'holder', type: 'varchar', length: '100' },
          // Milliseconds since the epoch: compared as numbers, same on both engines.
          { name: 'expires_at', type: 'bigint' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_job_lease');
    if (await djangoOwnsAuthTables(queryRunner)) return;
    for (const table of [...DJANGO_TABLES].reverse()) await queryRunner.dropTable(table);
  }
}
