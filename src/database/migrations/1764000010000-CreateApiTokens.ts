import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from '../column-types';

/**
 * API tokens (issue 19): hashed keys with scopes and expiry, belonging to a Django user (gone with
 * the user, also when Django deletes it).
 */
export class CreateApiTokens1764000010000 implements MigrationInterface {
  name = 'CreateApiTokens1764000010000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_api_token',
        columns: [
          idColumn(),
          { name: 'user_id', type: 'integer' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'key_prefix', type: 'varchar', length: '16' },
          { name: 'key_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'scopes', type: 'varchar', length: '200' },
          timestampColumn(queryRunner, 'created_at'),
          { name: 'created_by_id', type: 'integer', isNullable: true },
          timestampColumn(queryRunner, 'expires_at', { isNullable: true }),
          timestampColumn(queryRunner, 'last_used_at', { isNullable: true }),
        ],
        foreignKeys: [
          {
            columnNames: ['user_id'],
            referencedTableName: 'auth_user',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
          {
            columnNames: ['created_by_id'],
            referencedTableName: 'auth_user',
            referencedColumnNames: ['id'],
            onDelete: 'SET NULL',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_api_token',
      new TableIndex({ name: 'live_api_token_user', columnNames: ['user_id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_api_token');
  }
}
