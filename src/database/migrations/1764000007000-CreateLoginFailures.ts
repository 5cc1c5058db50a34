import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn } from '../column-types';

/**
 * Failed logins, one row each, where every instance counts them (src/auth/lockouts/): the login
 * throttle counts a (username, address) pair and an address within a window, and staff clear them.
 */
export class CreateLoginFailures1764000007000 implements MigrationInterface {
  name = 'CreateLoginFailures1764000007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_login_failure',
        columns: [
          idColumn(),
          { name: 'username', type: 'varchar', length: '150' },
          { name: 'address', type: 'varchar', length: '100' },
          // Milliseconds since the epoch: compared as numbers, same on both engines.
          { name: 'attempted_at', type: 'bigint' },
        ],
      }),
    );
    // The throttle's two counts: one address, and one address with one username, in the window.
    await queryRunner.createIndex(
      'live_login_failure',
      new TableIndex({
        name: 'live_login_failure_key',
        columnNames: ['address', 'username', 'attempted_at'],
      }),
    );
    // The purge of expired rows and the list of lockouts.
    await queryRunner.createIndex(
      'live_login_failure',
      new TableIndex({ name: 'live_login_failure_attempted_at', columnNames: ['attempted_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_login_failure');
  }
}
