import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from '../column-types';

/** One row per certbot run (renewal or issuance): who, when, how it ended, the output's tail. */
export class CreateCertRuns1764000002000 implements MigrationInterface {
  name = 'CreateCertRuns1764000002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_cert_run',
        columns: [
          idColumn(),
          { name: 'kind', type: 'varchar', length: '10' },
          { name: 'trigger', type: 'varchar', length: '10' },
          { name: 'requested_by', type: 'varchar', length: '150', isNullable: true },
          { name: 'domains', type: 'text', default: "'[]'" },
          timestampColumn(queryRunner, 'started_at'),
          timestampColumn(queryRunner, 'finished_at', { isNullable: true }),
          { name: 'exit_code', type: 'integer', isNullable: true },
          { name: 'outcome', type: 'varchar', length: '10' },
          { name: 'renewed', type: 'text', default: "'[]'" },
          { name: 'failed', type: 'text', default: "'[]'" },
          { name: 'reason', type: 'text', isNullable: true },
          { name: 'output_tail', type: 'text', default: "''" },
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_cert_run',
      new TableIndex({ name: 'live_cert_run_started_at', columnNames: ['started_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_cert_run');
  }
}
