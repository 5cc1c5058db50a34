import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampColumn } from '../column-types';

/**
 * Certificates for clusters (issue 20): the http-01 challenges certbot's hooks store, so every
 * instance can answer `/.well-known/acme-challenge/<token>`, and the last check of what each
 * certificate's domains actually serve, so every instance's /health says the same.
 */
export class CreateAcmeChallenges1764000013000 implements MigrationInterface {
  name = 'CreateAcmeChallenges1764000013000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_acme_challenge',
        columns: [
          { name: 'token', type: 'varchar', length: '256', isPrimary: true },
          { name: 'key_authorization', type: 'varchar', length: '600' },
          { name: 'domain', type: 'varchar', length: '253' },
          timestampColumn(queryRunner, 'created_at'),
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_acme_challenge',
      new TableIndex({ name: 'live_acme_challenge_created_at', columnNames: ['created_at'] }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_cert_deploy_check',
        columns: [
          { name: 'name', type: 'varchar', length: '253', isPrimary: true },
          timestampColumn(queryRunner, 'checked_at'),
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'expected_serial', type: 'varchar', length: '64' },
          { name: 'detail', type: 'text', default: "'[]'" },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_cert_deploy_check');
    await queryRunner.dropTable('live_acme_challenge');
  }
}
