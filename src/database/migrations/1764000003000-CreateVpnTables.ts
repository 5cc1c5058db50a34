import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn } from '../column-types';

/** VPN audit trail and client metadata (times as epoch milliseconds). */
export class CreateVpnTables1764000003000 implements MigrationInterface {
  name = 'CreateVpnTables1764000003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_vpn_audit',
        columns: [
          idColumn(),
          { name: 'at', type: 'bigint' },
          { name: 'actor', type: 'varchar', length: '150' },
          { name: 'action', type: 'varchar', length: '32' },
          { name: 'client_name', type: 'varchar', length: '64', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'detail', type: 'text', default: "''" },
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_vpn_audit',
      new TableIndex({ name: 'live_vpn_audit_at', columnNames: ['at'] }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_vpn_client',
        columns: [
          { name: 'name', type: 'varchar', length: '64', isPrimary: true },
          { name: 'created_by', type: 'varchar', length: '150', isNullable: true },
          { name: 'created_at', type: 'bigint', isNullable: true },
          { name: 'revoked_by', type: 'varchar', length: '150', isNullable: true },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_vpn_client');
    await queryRunner.dropTable('live_vpn_audit');
  }
}
