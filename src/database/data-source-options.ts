import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { DatabaseTarget } from '../config/app.config';
import { migrations } from './migrations';

/** One place that turns DATABASE_URL into TypeORM options, shared by the app and ../ormconfig.ts. */
export function buildDataSourceOptions(target: DatabaseTarget): DataSourceOptions {
  const common = {
    migrations,
    migrationsTableName: 'live_migrations',
    synchronize: false,
    logging: false,
  } as const;
  if (target.type === 'postgres') {
    return { ...common, type: 'postgres', url: target.url, extra: { max: 20 } };
  }
  if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: target.path,
    // WAL lets readers (history, sessions) run while a batch of writes commits. better-sqlite3 is
    // synchronous: with synchronous=FULL every commit (a history batch per 25 ms of chat traffic, two per login)
    // waits for an fsync on the event loop; NORMAL leaves that to checkpoints.
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${target.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
    },
  };
}
