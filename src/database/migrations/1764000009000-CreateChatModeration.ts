import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from '../column-types';

/**
 * Room rules and moderation (issue 18): rooms staff declared (who joins, who posts, topic, moderator
 * group) with their listed members, mutes and bans with their expiry, and the log of every action.
 * Users and groups are Django's auth_user and auth_group: a member row or a sanction goes with its
 * user or group (ON DELETE CASCADE, also when Django deletes them), a log keeps the names it copied.
 */
export class CreateChatModeration1764000009000 implements MigrationInterface {
  name = 'CreateChatModeration1764000009000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const user = (column: string, onDelete: 'CASCADE' | 'SET NULL') => ({
      columnNames: [column],
      referencedTableName: 'auth_user',
      referencedColumnNames: ['id'],
      onDelete,
    });
    const group = (column: string, onDelete: 'CASCADE' | 'SET NULL') => ({
      columnNames: [column],
      referencedTableName: 'auth_group',
      referencedColumnNames: ['id'],
      onDelete,
    });
    await queryRunner.createTable(
      new Table({
        name: 'live_chat_room',
        columns: [
          { name: 'room', type: 'varchar', length: '100', isPrimary: true },
          { name: 'join_rule', type: 'varchar', length: '16' },
          { name: 'post_rule', type: 'varchar', length: '16' },
          { name: 'topic', type: 'varchar', length: '500' },
          { name: 'moderator_group_id', type: 'integer', isNullable: true },
          timestampColumn(queryRunner, 'updated_at'),
          { name: 'updated_by_id', type: 'integer', isNullable: true },
        ],
        foreignKeys: [group('moderator_group_id', 'SET NULL'), user('updated_by_id', 'SET NULL')],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_chat_room_member',
        columns: [
          idColumn(),
          { name: 'room', type: 'varchar', length: '100' },
          { name: 'user_id', type: 'integer', isNullable: true },
          { name: 'group_id', type: 'integer', isNullable: true },
        ],
        foreignKeys: [
          {
            columnNames: ['room'],
            referencedTableName: 'live_chat_room',
            referencedColumnNames: ['room'],
            onDelete: 'CASCADE',
          },
          user('user_id', 'CASCADE'),
          group('group_id', 'CASCADE'),
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_chat_room_member',
      new TableIndex({ name: 'live_chat_room_member_room', columnNames: ['room'] }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_chat_sanction',
        columns: [
          idColumn(),
          { name: 'room', type: 'varchar', length: '100' },
          { name: 'user_id', type: 'integer' },
          { name: 'kind', type: 'varchar', length: '8' },
          { name: 'reason', type: 'varchar', length: '500' },
          timestampColumn(queryRunner, 'created_at'),
          { name: 'created_by_id', type: 'integer', isNullable: true },
          timestampColumn(queryRunner, 'expires_at', { isNullable: true }),
          timestampColumn(queryRunner, 'lifted_at', { isNullable: true }),
          { name: 'lifted_by_id', type: 'integer', isNullable: true },
        ],
        foreignKeys: [
          user('user_id', 'CASCADE'),
          user('created_by_id', 'SET NULL'),
          user('lifted_by_id', 'SET NULL'),
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_chat_sanction',
      new TableIndex({ name: 'live_chat_sanction_room_user', columnNames: ['room', 'user_id'] }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'live_chat_moderation_log',
        columns: [
          idColumn(),
          timestampColumn(queryRunner, 'created_at'),
          { name: 'room', type: 'varchar', length: '100' },
          { name: 'action', type: 'varchar', length: '16' },
          { name: 'actor_id', type: 'integer', isNullable: true },
          { name: 'actor_name', type: 'varchar', length: '300' },
          { name: 'target_user_id', type: 'integer', isNullable: true },
          { name: 'target_name', type: 'varchar', length: '300', isNullable: true },
          { name: 'message_id', type: 'bigint', isNullable: true },
          { name: 'message_user_id', type: 'integer', isNullable: true },
          { name: 'message_name', type: 'varchar', length: '300', isNullable: true },
          { name: 'message_text', type: 'text', isNullable: true },
          timestampColumn(queryRunner, 'message_at', { isNullable: true }),
          { name: 'reason', type: 'varchar', length: '500' },
          timestampColumn(queryRunner, 'expires_at', { isNullable: true }),
          { name: 'via', type: 'varchar', length: '8' },
        ],
        foreignKeys: [
          user('actor_id', 'SET NULL'),
          user('target_user_id', 'SET NULL'),
          user('message_user_id', 'SET NULL'),
        ],
      }),
    );
    await queryRunner.createIndex(
      'live_chat_moderation_log',
      new TableIndex({ name: 'live_chat_moderation_log_room_id', columnNames: ['room', 'id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('live_chat_moderation_log');
    await queryRunner.dropTable('live_chat_sanction');
    await queryRunner.dropTable('live_chat_room_member');
    await queryRunner.dropTable('live_chat_room');
  }
}
