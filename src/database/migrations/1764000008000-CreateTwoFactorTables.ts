import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from '../column-types';

/**
 * Staff two-factor: one authenticator per user (its secret sealed with a key derived from
 * SECRET_KEY) and the user's single-use recovery codes (keyed hashes only). Both go with their
 * user: ON DELETE CASCADE, also when Django deletes the user on a shared database.
 */
export class CreateTwoFactorTables1764000008000 implements MigrationInterface {
  name = 'CreateTwoFactorTables1764000008000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const user = {
      columnNames: ['user_id'],
      referencedTableName: 'auth_user',
      referencedColumnNames: ['id'],
      onDelete: 'CASCADE',
    };
    await queryRunner.createTable(
      new Table({
        name: 'live_totp_device',
        columns: [
          idColumn(),
          { name: 'user_id', type: 'integer', isUnique: true },
          { name: 'secret', type: 'varchar', length: '200' },
          timestampColumn(queryRunner, 'confirmed_at', { isNullable: true }),
          { name: 'last_used_step', type: 'bigint', isNullable: true },
          timestampColumn(queryRunner, 'created_at'),
        ],
        foreignKeys: [user],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_recovery_code',
        columns: [
          idColumn(),
          { name: 'user_id', type: 'integer' },
          { name: 'code_hash', type: 'varchar', length: '64' },
          timestampColumn(queryRunner, 'used_at', { isNullable: true }),
          timestampColumn(queryRunner, 'created_at'),
        ],
        foreignKeys: [user],
      }),
    );
    await queryRunner.createIndex(
      'live_recovery_code',
      new TableIndex({ name: 'live_recovery_code_user_id', columnNames: ['user_id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_recovery_code');
    await queryRunner.dropTable('live_totp_device');
  }
}
