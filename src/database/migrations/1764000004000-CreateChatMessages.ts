import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { timestampColumn } from '../column-types';

/** Chat history: one row per message, ids made by the app (time-ordered), paged per room by id. */
export class CreateChatMessages1764000004000 implements MigrationInterface {
  name = 'CreateChatMessages1764000004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'live_chat_message',
        columns: [
          { name: 'id', type: 'bigint', isPrimary: true },
          { name: 'room', type: 'varchar', length: '100' },
          { name: 'user_id', type: 'integer', isNullable: true },
          { name: 'name', type: 'varchar', length: '300' },
          { name: 'text', type: 'text' },
          timestampColumn(queryRunner, 'created_at'),
        ],
        foreignKeys: [
          {
            columnNames: ['user_id'],
            referencedTableName: 'auth_user',
            referencedColumnNames: ['id'],
            onDelete: 'SET NULL',
          },
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_chat_message',
      new TableIndex({ name: 'live_chat_message_room_id', columnNames: ['room', 'id'] }),
    );
    await queryRunner.createIndex(
      'live_chat_message',
      new TableIndex({ name: 'live_chat_message_created_at', columnNames: ['created_at'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_chat_message');
  }
}
