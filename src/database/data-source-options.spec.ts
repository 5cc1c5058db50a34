import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { SqliteSynchronous } from '../config/app.config';
import { buildDataSourceOptions } from './data-source-options';

describe('buildDataSourceOptions (SQLite)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'live-dso-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function pragmas(synchronous: SqliteSynchronous | undefined, file: string) {
    const ds = await new DataSource(
      buildDataSourceOptions({ type: 'sqlite', path: join(dir, file), synchronous }),
    ).initialize();
    try {
      const [{ journal_mode }] = await ds.query('PRAGMA journal_mode');
      const [{ synchronous: level }] = await ds.query('PRAGMA synchronous');
      return { journal_mode, level };
    } finally {
      await ds.destroy();
    }
  }

  // PRAGMA synchronous answers 1 for NORMAL, 2 for FULL.
  it('opens the file in WAL mode with synchronous=NORMAL by default', async () => {
    await expect(pragmas(undefined, 'a.sqlite3')).resolves.toEqual({ journal_mode: 'wal', level: 1 });
    await expect(pragmas('normal', 'b.sqlite3')).resolves.toEqual({ journal_mode: 'wal', level: 1 });
  });

  it('syncs every commit with SQLITE_SYNCHRONOUS=full', async () => {
    await expect(pragmas('full', 'c.sqlite3')).resolves.toEqual({ journal_mode: 'wal', level: 2 });
  });
});

describe('buildDataSourceOptions (PostgreSQL)', () => {
  const target = { type: 'postgres', url: 'postgres://u@127.0.0.1:5432/d' } as const;

  it('bounds connect, pool checkout and queries, with TCP keepalive', () => {
    const options = buildDataSourceOptions(target, { connectMs: 3000, queryMs: 5000, poolAcquireMs: 2500 });
    const extra = (options as { extra: Record<string, unknown> }).extra;
    expect(extra).toMatchObject({
      connectionTimeoutMillis: 2500,
      query_timeout: 5000,
      statement_timeout: 4500, // the server's clean cancel comes first on a live server
      keepAlive: true,
    });
    const Client = extra.Client as new (c: object) => { connectionParameters: unknown };
    expect((new Client({}) as unknown as { _connectionTimeoutMillis: number })._connectionTimeoutMillis).toBe(
      3000,
    );
  });

  it('leaves queries unbounded for one-shot tools and migrations', () => {
    expect((buildDataSourceOptions(target) as { extra: unknown }).extra).toEqual({ max: 20 });
    const extra = (
      buildDataSourceOptions(target, { connectMs: 3000, queryMs: 0, poolAcquireMs: 3000 }) as {
        extra: Record<string, unknown>;
      }
    ).extra;
    expect(extra.query_timeout).toBeUndefined();
    expect(extra.statement_timeout).toBeUndefined();
  });
});
