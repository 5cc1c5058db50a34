import { DataSource, EntitySubscriberInterface } from 'typeorm';
import type { AfterQueryEvent } from 'typeorm/subscriber/event/QueryEvent';
import { describeDatabaseError, isDatabaseUnavailable, CONNECTION_FAILURE } from './database-errors';

/** Statements that change the database (a failed COMMIT is where a full disk often shows). */
const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE|UPSERT|COMMIT|CREATE|ALTER|DROP)\b/i;

/**
 * Watches every query's outcome for a database that answers reads but cannot write (SQLite out of
 * disk or read-only, PostgreSQL's disk-full class 53): /health reports it degraded until a write
 * succeeds again. Connection failures are not its business (the ping reports those).
 */
export class DatabaseWriteMonitor implements EntitySubscriberInterface {
  private failedAt = 0;
  private succeededAt = 0;
  private reason = '';

  afterQuery(event: AfterQueryEvent): void {
    if (event.success) {
      if (WRITE.test(event.query)) this.succeededAt = Date.now();
      return;
    }
    const err: unknown = event.error;
    if (!isDatabaseUnavailable(err) || isConnectionFailure(err)) return;
    this.failedAt = Date.now();
    this.reason = describeDatabaseError(err);
  }

  /** Writes failed and none succeeded since (within `withinMs`): the reason; otherwise null. */
  failingWrites(withinMs = 60_000): { reason: string; sinceMs: number } | null {
    if (this.failedAt === 0 || this.succeededAt > this.failedAt) return null;
    const ago = Date.now() - this.failedAt;
    return ago <= withinMs ? { reason: this.reason, sinceMs: ago } : null;
  }
}

function isConnectionFailure(err: unknown): boolean {
  for (let e = err as Record<PropertyKey, unknown> | undefined, i = 0; e && i < 3; i++) {
    if (e[CONNECTION_FAILURE]) return true;
    e = e.driverError as Record<PropertyKey, unknown> | undefined;
  }
  return false;
}

const monitors = new WeakMap<DataSource, DatabaseWriteMonitor>();

/** Starts watching `dataSource`'s writes (once); returns its monitor. */
export function monitorWrites(dataSource: DataSource): DatabaseWriteMonitor {
  let monitor = monitors.get(dataSource);
  if (!monitor) {
    monitor = new DatabaseWriteMonitor();
    monitors.set(dataSource, monitor);
    dataSource.subscribers.push(monitor);
  }
  return monitor;
}
