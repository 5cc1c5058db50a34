import { execFile } from 'node:child_process';
import Database from 'better-sqlite3';

export const DJANGO_AUTH_TABLES = ['auth_group', 'auth_user', 'auth_user_groups', 'django_session'];

/**
 * How a database defines some tables, as text to compare: on SQLite the statements `sqlite_master`
 * keeps for them and their indexes; on PostgreSQL what `pg_dump --schema-only` writes for them
 * (columns, sequences, defaults, constraints and indexes with their names), without comments.
 */
export async function tableSchema(
  target: { type: 'sqlite'; path: string } | { type: 'postgres'; url: string },
  tables: readonly string[],
): Promise<string> {
  if (target.type === 'sqlite') {
    const db = new Database(target.path, { readonly: true });
    try {
      const rows = db
        .prepare(
          `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN (${tables.map(() => '?').join(',')}) ORDER BY tbl_name, type, name`,
        )
        .all(...tables) as { type: string; name: string; tbl_name: string; sql: string | null }[];
      return rows.map((r) => `${r.type} ${r.name} ON ${r.tbl_name}: ${r.sql ?? '(automatic)'}`).join('\n');
    } finally {
      db.close();
    }
  }
  const args = ['--schema-only', '--no-owner', ...tables.flatMap((t) => ['-t', t]), target.url];
  const dump = await new Promise<string>((resolve, reject) =>
    execFile('pg_dump', args, { timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`pg_dump: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  return dump
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^(--|SET |SELECT pg_catalog|\\(un)?restrict )/.test(line))
    .join('\n');
}

/** Every table's name in the database. */
export async function tableNames(
  target: { type: 'sqlite'; path: string } | { type: 'postgres'; url: string },
): Promise<string[]> {
  if (target.type === 'sqlite') {
    const db = new Database(target.path, { readonly: true });
    try {
      const rows = db
        .prepare(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
        )
        .all() as { name: string }[];
      return rows.map((r) => r.name);
    } finally {
      db.close();
    }
  }
  const { Client } = await import('pg');
  const client = new Client({ connectionString: target.url });
  await client.connect();
  try {
    const res = await client.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
    );
    return res.rows.map((r) => r.tablename);
  } finally {
    await client.end();
  }
}
