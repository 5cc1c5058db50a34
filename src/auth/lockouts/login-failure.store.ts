import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { LoginFailure } from './login-failure.entity';

/** How many failures lock a key, and for how long they count. */
export interface FailureLimits {
  windowMs: number;
  /** Per (username, address). */
  perPair: number;
  /** Per address, whatever the usernames. */
  perAddress: number;
}

export type Reservation =
  | {
      reserved: true;
      id: number;
      /** Failures of the pair and of the address in the window, this one and those before it included. */
      pairFailures: number;
      addressFailures: number;
    }
  | { reserved: false; retryAt: number };

/** A key over its limit: a pair (username set) or a whole address (username null). */
export interface Lockout {
  username: string | null;
  address: string;
  failures: number;
  lastFailureAt: number;
  /** When the count falls below the limit again (the oldest counting failure leaves the window). */
  lockedUntil: number;
}

/** Which failures an unlock clears: a pair, a username from every address, or an address. */
export type FailureFilter =
  { username: string; address?: string } | { username?: string; address: string } | { either: string };

const TABLE = 'live_login_failure';

/**
 * Two-key advisory locks (pg_advisory_xact_lock(int, int)) live apart from the one-key migration
 * lock; this first key says "login failures", the second is the address's hash.
 */
const ADVISORY_NAMESPACE = 0x6c6f636b; // 'lock'

interface Row {
  [column: string]: string | number | null;
}

const num = (v: string | number | null | undefined): number | null =>
  v === null || v === undefined ? null : Number(v);

/**
 * The failed logins every instance sees, in the shared database (SQLite or PostgreSQL): one row
 * per failure. Only talks SQL; the rules (what counts, what a lockout is) are LoginThrottle's.
 *
 * Counting and inserting a failure is one atomic step, so concurrent guesses cannot all see room
 * under the limit: on SQLite one conditional INSERT (a single statement; one writer at a time), on
 * PostgreSQL the same INSERT after a transaction-scoped advisory lock on the address, which every
 * reservation touching that address (pair or address count) takes first.
 */
@Injectable()
export class LoginFailureStore {
  private readonly postgres: boolean;

  constructor(@InjectDataSource() private readonly db: DataSource) {
    this.postgres = db.options.type === 'postgres';
  }

  /** `?` placeholders in the engine's style ($1, $2… on PostgreSQL). */
  private sql(text: string): string {
    if (!this.postgres) return text;
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  }

  /**
   * Counts a failure in advance unless the pair or the address has reached its limit in the window;
   * otherwise says when the first of the two locks ends.
   */
  async reserve(username: string, address: string, now: number, limits: FailureLimits): Promise<Reservation> {
    const since = now - limits.windowMs;
    // Already locked: one read and no lock, the path every refused guess of a flood takes.
    const lockedUntil = await this.lockedUntil(username, address, since, limits);
    if (lockedUntil !== null) return { reserved: false, retryAt: lockedUntil };
    const id = this.postgres
      ? await this.db.transaction(async (manager) => {
          await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
            ADVISORY_NAMESPACE,
            address,
          ]);
          return this.insertUnderLimits(manager, username, address, now, since, limits);
        })
      : await this.insertUnderLimits(this.db.manager, username, address, now, since, limits);
    if (id === null) {
      // Another request took the last place since the read above.
      const retryAt = await this.lockedUntil(username, address, since, limits);
      return { reserved: false, retryAt: retryAt ?? now + 1000 };
    }
    // Rows up to ours only: later reservations for the address are not ours to count.
    const [counts] = (await this.db.query(
      this.sql(
        `SELECT (SELECT COUNT(*) FROM ${TABLE} WHERE address = ? AND username = ? AND attempted_at > ? AND id <= ?) AS pair,
                (SELECT COUNT(*) FROM ${TABLE} WHERE address = ? AND attempted_at > ? AND id <= ?) AS address`,
      ),
      [address, username, since, id, address, since, id],
    )) as Row[];
    return {
      reserved: true,
      id,
      pairFailures: num(counts.pair) ?? 1,
      addressFailures: num(counts.address) ?? 1,
    };
  }

  private async insertUnderLimits(
    manager: EntityManager,
    username: string,
    address: string,
    now: number,
    since: number,
    limits: FailureLimits,
  ): Promise<number | null> {
    const rows = (await manager.query(
      this.sql(
        `INSERT INTO ${TABLE} (username, address, attempted_at)
         SELECT CAST(? AS varchar(150)), CAST(? AS varchar(100)), CAST(? AS bigint)
         WHERE (SELECT COUNT(*) FROM ${TABLE} WHERE address = ? AND username = ? AND attempted_at > ?) < ?
           AND (SELECT COUNT(*) FROM ${TABLE} WHERE address = ? AND attempted_at > ?) < ?
         RETURNING id`,
      ),
      [username, address, now, address, username, since, limits.perPair, address, since, limits.perAddress],
    )) as Row[];
    return rows.length > 0 ? Number(rows[0].id) : null;
  }

  /**
   * When the pair or the address can try again (the later of the two), or null when neither is
   * locked: a key is locked while its limit-th newest failure is in the window.
   */
  private async lockedUntil(
    username: string,
    address: string,
    since: number,
    limits: FailureLimits,
  ): Promise<number | null> {
    const [row] = (await this.db.query(
      this.sql(
        `SELECT (SELECT attempted_at FROM ${TABLE} WHERE address = ? AND username = ? AND attempted_at > ?
                 ORDER BY attempted_at DESC LIMIT 1 OFFSET ?) AS pair_at,
                (SELECT attempted_at FROM ${TABLE} WHERE address = ? AND attempted_at > ?
                 ORDER BY attempted_at DESC LIMIT 1 OFFSET ?) AS address_at`,
      ),
      [address, username, since, limits.perPair - 1, address, since, limits.perAddress - 1],
    )) as Row[];
    const times = [num(row.pair_at), num(row.address_at)].filter((t): t is number => t !== null);
    return times.length === 0 ? null : Math.max(...times) + limits.windowMs;
  }

  /** Takes one reserved failure back (its password was right, or could not be checked). */
  async remove(id: number): Promise<void> {
    await this.db.createQueryBuilder().delete().from(LoginFailure).where('id = :id', { id }).execute();
  }

  /** Deletes failures matching the filter; returns how many. */
  async clear(filter: FailureFilter): Promise<number> {
    const query = this.db.createQueryBuilder().delete().from(LoginFailure);
    if ('either' in filter) query.where('username = :v OR address = :v', { v: filter.either });
    else {
      const columns = (['username', 'address'] as const).filter((c) => filter[c] !== undefined);
      query.where(
        columns.map((c) => `${c} = :${c}`).join(' AND '),
        Object.fromEntries(columns.map((c) => [c, filter[c]])),
      );
    }
    return (await query.execute()).affected ?? 0;
  }

  /** Deletes failures that left the window (attempted at or before `before`); returns how many. */
  async purge(before: number): Promise<number> {
    const result = await this.db
      .createQueryBuilder()
      .delete()
      .from(LoginFailure)
      .where('attempted_at <= :before', { before })
      .execute();
    return result.affected ?? 0;
  }

  /** The keys over their limit now, newest failure first (at most `max` of each kind). */
  async lockouts(now: number, limits: FailureLimits, max: number): Promise<Lockout[]> {
    const since = now - limits.windowMs;
    const pairs = (await this.db.query(
      this.sql(
        `SELECT g.username, g.address, g.failures, g.last_at,
                (SELECT f.attempted_at FROM ${TABLE} f
                 WHERE f.address = g.address AND f.username = g.username AND f.attempted_at > ?
                 ORDER BY f.attempted_at DESC LIMIT 1 OFFSET ?) AS nth_at
         FROM (SELECT username, address, COUNT(*) AS failures, MAX(attempted_at) AS last_at
               FROM ${TABLE} WHERE attempted_at > ?
               GROUP BY address, username HAVING COUNT(*) >= ?) g
         ORDER BY g.last_at DESC LIMIT ?`,
      ),
      [since, limits.perPair - 1, since, limits.perPair, max],
    )) as Row[];
    const addresses = (await this.db.query(
      this.sql(
        `SELECT g.address, g.failures, g.last_at,
                (SELECT f.attempted_at FROM ${TABLE} f WHERE f.address = g.address AND f.attempted_at > ?
                 ORDER BY f.attempted_at DESC LIMIT 1 OFFSET ?) AS nth_at
         FROM (SELECT address, COUNT(*) AS failures, MAX(attempted_at) AS last_at
               FROM ${TABLE} WHERE attempted_at > ?
               GROUP BY address HAVING COUNT(*) >= ?) g
         ORDER BY g.last_at DESC LIMIT ?`,
      ),
      [since, limits.perAddress - 1, since, limits.perAddress, max],
    )) as Row[];
    const lockout = (row: Row, username: string | null): Lockout => ({
      username,
      address: String(row.address),
      failures: Number(row.failures),
      lastFailureAt: Number(row.last_at),
      lockedUntil: (num(row.nth_at) ?? Number(row.last_at)) + limits.windowMs,
    });
    return [
      ...addresses.map((row) => lockout(row, null)),
      ...pairs.map((row) => lockout(row, String(row.username))),
    ];
  }
}
