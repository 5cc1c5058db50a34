import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn } from '../column-types';

/** Ops alerts: one row per alert per channel (sent, failed or suppressed by the daily dedupe). */
export class CreateAlerts1764000005000 implements MigrationInterface {
  name = 'CreateAlerts1764000005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_ops_alert',
        columns: [
          idColumn(),
          { name: 'event', type: 'varchar', length: '100' },
          { name: 'severity', type: 'varchar', length: '16' },
          { name: 'subject', type: 'varchar', length: '300' },
          { name: 'detail', type: 'text' },
          { name: 'dedupe_key', type: 'varchar', length: '300', isNullable: true },
          { name: 'channel', type: 'varchar', length: '32' },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'attempts', type: 'integer' },
          // Milliseconds since the epoch: compared as numbers, same on both engines.
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_ops_alert',
      new TableIndex({ name: 'live_ops_alert_dedupe', columnNames: ['dedupe_key', 'channel', 'created_at'] }),
    );
    await queryRunner.createIndex(
      'live_ops_alert',
      new TableIndex({ name: 'live_ops_alert_created_at', columnNames: ['created_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_ops_alert');
  }
}
