import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from '../column-types';

/** auth_user and django_session as Django lays them out, plus the job lease table for scheduled work. */
export class CreateAuthTables1764000001000 implements MigrationInterface {
  name = 'CreateAuthTables1764000001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'auth_user',
        columns: [
          idColumn(),
          { name: 'password', type: 'varchar', length: '128' },
          timestampColumn(queryRunner, 'last_login', { isNullable: true }),
          { name: 'is_superuser', type: 'boolean', default: false },
          { name: 'username', type: 'varchar', length: '150', isUnique: true },
          { name: 'first_name', type: 'varchar', length: '150', default: "''" },
          { name: 'last_name', type: 'varchar', length: '150', default: "''" },
          { name: 'email', type: 'varchar', length: '254', default: "''" },
          { name: 'is_staff', type: 'boolean', default: false },
          { name: 'is_active', type: 'boolean', default: true },
          timestampColumn(queryRunner, 'date_joined'),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'django_session',
        columns: [
          { name: 'session_key', type: 'varchar', length: '40', isPrimary: true },
          { name: 'session_data', type: 'text' },
          timestampColumn(queryRunner, 'expire_date'),
          { name: 'user_id', type: 'integer', isNullable: true },
        ],
        foreignKeys: [
          {
            columnNames: ['user_id'],
            referencedTableName: 'auth_user',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'django_session',
      new TableIndex({ name: 'django_session_expire_date', columnNames: ['expire_date'] }),
    );
    await queryRunner.createIndex(
      'django_session',
      new TableIndex({ name: 'django_session_user_id', columnNames: ['user_id'] }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'job_lease',
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
    await queryRunner.dropTable('job_lease');
    await queryRunner.dropTable('django_session');
    await queryRunner.dropTable('auth_user');
  }
}
