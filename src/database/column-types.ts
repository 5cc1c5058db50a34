import { QueryRunner, TableColumnOptions } from 'typeorm';

/** A point in time: timestamptz on PostgreSQL, datetime (ISO text) on SQLite. */
export function timestampColumn(
  queryRunner: QueryRunner,
  name: string,
  options: Partial<TableColumnOptions> = {},
): TableColumnOptions {
  const type = queryRunner.connection.options.type === 'postgres' ? 'timestamptz' : 'datetime';
  return { name, type, ...options };
}

/** Auto-increment integer primary key on both engines. */
export function idColumn(name = 'id'): TableColumnOptions {
  return { name, type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' };
}
