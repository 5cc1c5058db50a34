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
