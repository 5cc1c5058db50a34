/**
 * Telling "the database cannot answer now" (unreachable, silent, overloaded, out of disk) apart
 * from "this query is wrong": the first is a 503 the client may retry, the second a bug.
 */

/** Set by the PostgreSQL client (data-source-options.ts) on errors of the connection itself. */
export const CONNECTION_FAILURE = Symbol.for('live.database.connectionFailure');

/** Marks `err` as a failure to reach or keep talking to the database; returns it. */
export function markConnectionFailure<T>(err: T): T {
  if (err !== null && typeof err === 'object')
    Object.defineProperty(err, CONNECTION_FAILURE, { value: true, enumerable: false });
  return err;
}

/** What the pg driver, pg-pool and our client say when the server is unreachable or silent. */
const PG_CONNECTION_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /Connection terminated/i, // "... unexpectedly", "... due to connection timeout"
  /Query read timeout/i,
  /timeout expired/i, // pg's own connect timer
  /Client has encountered a connection error and is not queryable/i,
  /Cannot use a pool after calling end on the pool/i,
];

/**
 * SQLSTATEs that mean the server cannot serve now: class 08 (connection exception), 53 (out of
 * disk, memory or connections), 57014 (statement_timeout cancelled it), 57P0x (shutting down,
 * starting up), 25006 (read-only: a standby).
 */
function pgCodeUnavailable(code: string): boolean {
  return /^(08|53)/.test(code) || /^57(014|P0[1-4])$/.test(code) || code === '25006';
}

/** SQLite result codes (better-sqlite3 `code`, extended codes included) of a database that cannot write or read now. */
function sqliteCodeUnavailable(code: string): boolean {
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL|NOMEM)/.test(code);
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  driverError?: unknown;
  cause?: unknown;
  [CONNECTION_FAILURE]?: boolean;
}

/** The error and what it wraps (TypeORM's QueryFailedError.driverError, `cause`), outermost first. */
function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e: unknown = err;
  while (e !== null && typeof e === 'object' && out.length < 5 && !out.includes(e as ErrorLike)) {
    const x = e as ErrorLike;
    out.push(x);
    e = x.driverError ?? x.cause;
  }
  return out;
}

/** Whether `err` says the database is unreachable, silent, overloaded or out of space (→ 503). */
export function isDatabaseUnavailable(err: unknown): boolean {
  return chain(err).some((e) => {
    if (e[CONNECTION_FAILURE]) return true;
    const code = typeof e.code === 'string' ? e.code : '';
    if (code.startsWith('SQLITE_')) return sqliteCodeUnavailable(code);
    if (/^[0-9A-Z]{5}$/.test(code) && pgCodeUnavailable(code)) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    return PG_CONNECTION_MESSAGES.some((re) => re.test(message));
  });
}

/**
 * A short reason for clients and logs, without addresses or SQL: "no answer within the time
 * limit", "connection refused", …
 */
export function describeDatabaseError(err: unknown): string {
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
    if (code === 'SQLITE_FULL' || code === '53100') return 'disk full';
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'database is locked';
    if (code.startsWith('SQLITE_READONLY') || code === '25006') return 'database is read-only';
    if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) return 'disk I/O error';
    if (code === '53300') return 'too many connections';
    if (code === '57014') return 'query cancelled after the time limit';
    if (/^57P0/.test(code)) return 'server shutting down or starting';
    if (/Query read timeout/i.test(message)) return 'no answer within the time limit';
    if (/timeout exceeded when trying to connect|connection timeout|timeout expired/i.test(message))
      return 'could not connect within the time limit';
    if (code === 'ETIMEDOUT') return 'connection timed out';
    if (code === 'ECONNRESET' || code === 'EPIPE' || /Connection terminated/i.test(message))
      return 'connection lost';
  }
  return 'not reachable';
}
