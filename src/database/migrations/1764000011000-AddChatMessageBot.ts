import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Messages posted through the publish API under a bot name (issue 19) are marked, so that history
 * shows them as bots too. A plain ADD COLUMN with a constant default: instant on PostgreSQL 11+ and
 * on SQLite (TypeORM's addColumn would copy the whole history table on SQLite), and every existing
 * row is a normal message.
 */
export class AddChatMessageBot1764000011000 implements MigrationInterface {
  name = 'AddChatMessageBot1764000011000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    await queryRunner.query(
      `ALTER TABLE "live_chat_message" ADD COLUMN "bot" boolean NOT NULL DEFAULT ${postgres ? 'false' : '0'}`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('live_chat_message', 'bot');
  }
}
