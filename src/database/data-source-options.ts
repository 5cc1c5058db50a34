import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client, ClientConfig, DatabaseError } from 'pg';
import { DataSourceOptions } from 'typeorm';
import { DatabaseTarget, DatabaseTimeouts } from '../config/app.config';
import { markConnectionFailure } from './database-errors';
import { migrations } from './migrations';

/** pg's message when a query got no answer within `query_timeout` (client side). */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

type Method = (...args: unknown[]) => unknown;

/**
 * Runs `method` with its callback (last argument) or promise observed: `onError` sees the error
 * first. The caller gets the same result either way.
 */
function observed(self: Client, method: Method, args: unknown[], onError: (err: unknown) => void): unknown {
  const last = args.length - 1;
  const callback = args[last];
  if (typeof callback === 'function') {
    args[last] = (err: unknown, ...rest: unknown[]) => {
      if (err) onError(err);
      (callback as Method)(err, ...rest);
    };
    return method.apply(self, args);
  }
  const result = method.apply(self, args);
  if (result instanceof Promise) result.catch(onError);
  return result;
}

/**
 * A pg client that opens within `connectMs`, marks failures of the connection itself (not the
 * server's answers to a bad query) so they become 503s, and drops its connection when a query got
 * no answer within `query_timeout`. pg fails such a query but keeps the connection, its protocol
 * stuck behind the unanswered query, and TypeORM hands it back to the pool: every later query on it
 * would wait out its own timeout, even after the server is reachable again. Destroying the socket
 * makes the client emit an error, and the pool (or the query runner holding it) discards it.
 */
export function boundedClientClass(connectMs: number): typeof Client {
  class BoundedClient extends Client {
    constructor(config?: string | ClientConfig) {
      super({
        ...(typeof config === 'string' ? { connectionString: config } : config),
        connectionTimeoutMillis: connectMs,
      });
      // The pool and TypeORM listen while they hold the client; this one only keeps a late socket
      // error (after a drop, between owners) from becoming an uncaught 'error' event.
      this.on('error', () => undefined);
    }
  }
  const proto = BoundedClient.prototype as unknown as { query: Method; connect: Method };
  const query = Client.prototype.query as unknown as Method;
  const connect = Client.prototype.connect as unknown as Method;
  proto.connect = function (this: Client, ...args: unknown[]): unknown {
    return observed(this, connect, args, markConnectionFailure);
  };
  proto.query = function (this: Client, ...args: unknown[]): unknown {
    return observed(this, query, args, (err) => {
      if (err instanceof DatabaseError) return; // the server answered: the query is at fault, not the link
      markConnectionFailure(err);
      if ((err as Error).message !== QUERY_READ_TIMEOUT) return;
      // At once, before the pool takes it back: a not-queryable client is removed on release
      // (pg-pool reads the same private flag) instead of being handed to the next query.
      (this as unknown as { _queryable: boolean })._queryable = false;
      this.connection?.stream?.destroy();
    });
  };
  return BoundedClient;
}

/**
 * pg.Pool options (TypeORM's `extra`) for the timeouts: `connectionTimeoutMillis` bounds the wait
 * for a pooled connection (pg-pool uses it for a queued checkout and for opening a new client), the
 * client class bounds one connection attempt, `statement_timeout` has the server cancel a slow
 * query and `query_timeout` stops waiting for a server that does not answer at all (black-holed:
 * statement_timeout never arrives then). TCP keepalive finds dead idle connections.
 */
export function postgresPoolOptions(timeouts: DatabaseTimeouts): Record<string, unknown> {
  return {
    max: 20,
    Client: boundedClientClass(timeouts.connectMs),
    connectionTimeoutMillis: timeouts.poolAcquireMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'live',
    ...(timeouts.queryMs > 0
      ? {
          // The server's own cancel comes a little earlier, so a slow query on a live server ends
          // cleanly (the connection stays usable); the client's limit is the bound a caller sees.
          statement_timeout: timeouts.queryMs - Math.min(500, Math.floor(timeouts.queryMs / 5)),
          query_timeout: timeouts.queryMs,
        }
      : {}),
  };
}

/**
 * One place that turns DATABASE_URL into TypeORM options, shared by the app and ../ormconfig.ts.
 * `timeouts` bound every wait on PostgreSQL (the app passes AppConfig.databaseTimeouts); without
 * them, one-shot tools (migrations, the TypeORM CLI) wait as long as a statement takes.
 */
export function buildDataSourceOptions(
  target: DatabaseTarget,
  timeouts?: DatabaseTimeouts,
): DataSourceOptions {
  const common = {
    migrations,
    migrationsTableName: 'live_migrations',
    synchronize: false,
    logging: false,
  } as const;
  if (target.type === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: target.url,
      extra: timeouts ? postgresPoolOptions(timeouts) : { max: 20 },
    };
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
