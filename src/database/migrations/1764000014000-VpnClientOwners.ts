import { MigrationInterface, QueryRunner, Table, TableColumn, TableForeignKey, TableIndex } from 'typeorm';
import { idColumn } from '../column-types';

/**
 * VPN clients for people (issue 21): a client may belong to a user (unowned again when the user is
 * deleted), and staff may hand a profile out through a one-time download link (only the SHA-256
 * of the link's token is kept; times as epoch milliseconds, like the rest of live_vpn_*).
 */
export class VpnClientOwners1764000014000 implements MigrationInterface {
  name = 'VpnClientOwners1764000014000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      'live_vpn_client',
      new TableColumn({ name: 'owner_id', type: 'integer', isNullable: true }),
    );
    await queryRunner.createForeignKey(
      'live_vpn_client',
      new TableForeignKey({
        name: 'live_vpn_client_owner_fk',
        columnNames: ['owner_id'],
        referencedTableName: 'auth_user',
        referencedColumnNames: ['id'],
        onDelete: 'SET NULL',
      }),
    );
    await queryRunner.createIndex(
      'live_vpn_client',
      new TableIndex({ name: 'live_vpn_client_owner', columnNames: ['owner_id'] }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_vpn_download_link',
        columns: [
          idColumn(),
          { name: 'token_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'client_name', type: 'varchar', length: '64' },
          { name: 'created_by', type: 'varchar', length: '150' },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'used_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_vpn_download_link');
    await queryRunner.dropIndex('live_vpn_client', 'live_vpn_client_owner');
    await queryRunner.dropForeignKey('live_vpn_client', 'live_vpn_client_owner_fk');
    await queryRunner.dropColumn('live_vpn_client', 'owner_id');
  }
}
