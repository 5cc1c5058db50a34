import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampColumn } from '../column-types';

/**
 * Chat tickets (issue 19): single-use, 30-second handshake credentials for pages on other origins,
 * kept as SHA-256 hashes in the shared database so that a ticket issued by one instance opens a
 * socket on another. Gone with their user, and with the API token they were issued from.
 */
export class CreateChatTickets1764000012000 implements MigrationInterface {
  name = 'CreateChatTickets1764000012000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_chat_ticket',
        columns: [
          { name: 'ticket_hash', type: 'varchar', length: '64', isPrimary: true },
          { name: 'room', type: 'varchar', length: '100' },
          { name: 'user_id', type: 'integer' },
          { name: 'session_key', type: 'varchar', length: '40', isNullable: true },
          { name: 'token_id', type: 'integer', isNullable: true },
          timestampColumn(queryRunner, 'expires_at'),
        ],
        foreignKeys: [
          {
            columnNames: ['user_id'],
            referencedTableName: 'auth_user',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
          {
            columnNames: ['token_id'],
            referencedTableName: 'live_api_token',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_chat_ticket',
      new TableIndex({ name: 'live_chat_ticket_expires', columnNames: ['expires_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_chat_ticket');
  }
}
