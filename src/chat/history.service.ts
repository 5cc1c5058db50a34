import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, MoreThan, Repository } from 'typeorm';
import { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { ChatConfig } from './chat.config';
import { ChatMessageEntity } from './chat-message.entity';
import { ChatMessage } from './chat.protocol';
import { withDeadline } from '../common/deadline';
import { MetricsService } from '../metrics/metrics.service';

/** Past this many unsaved messages (the database is down), the oldest are dropped and logged. */
const MAX_PENDING = 200_000;
const MAX_BATCH = 1000;
/** PostgreSQL types of the columns a batch is read into from its JSON (the migration's column types). */
const POSTGRES_COLUMN_TYPES: Record<string, string> = {
  id: 'bigint',
  room: 'varchar',
  userId: 'integer',
  name: 'varchar',
  text: 'text',
  createdAt: 'timestamptz',
  bot: 'boolean',
};
/** A probe of the table that takes longer than this counts as the database being unreachable. */
const PROBE_TIMEOUT_MS = 5000;

/** The driver's code of an error: a PostgreSQL SQLSTATE, an SQLite code, or a Node.js errno name. */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whose fault a failed INSERT is. 'row': the values (PostgreSQL SQLSTATE classes 22 data exception
 * such as NUL in text or a too long varchar, 23 constraint violation, 54 program limit; SQLite
 * constraint, type mismatch, too big). 'outage': the database or its storage (no connection,
 * timeouts, PostgreSQL 08/25/40/53/55/57/58/XX, SQLite full disk, I/O, busy, locked, read-only...).
 * 'unknown': anything else, judged by whether the other rows of the batch land.
 */
export function rowFault(err: unknown): 'row' | 'outage' | 'unknown' {
  const code = errorCode(err);
  if (code === undefined) return 'unknown';
  if (/^[0-9A-Z]{5}$/.test(code)) {
    const cls = code.slice(0, 2);
    if (cls === '22' || cls === '23' || cls === '54') return 'row';
    if (['08', '25', '40', '53', '55', '57', '58', 'XX'].includes(cls)) return 'outage';
    return 'unknown';
  }
  if (/^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code)) return 'row';
  if (code.startsWith('SQLITE_')) return code === 'SQLITE_ERROR' ? 'unknown' : 'outage';
  return 'outage'; // ECONNREFUSED, ETIMEDOUT, ECONNRESET...
}

/** Column sizes of live_chat_message (see its migration), in characters as PostgreSQL counts them. */
const ROOM_CHARS = 100;
const NAME_CHARS = 300;

function tooLong(value: string, max: number): boolean {
  if (value.length <= max) return false; // UTF-16 units ≥ code points
  let n = 0;
  for (const _ of value) if (++n > max) return true;
  return false;
}

/**
 * Why a message cannot be stored as it is, or null. Checked before queueing, identically on SQLite
 * and PostgreSQL (SQLite would take these rows, PostgreSQL refuses them): a NUL character in any
 * text column (PostgreSQL text cannot hold U+0000) or a value longer than its varchar column. Chat
 * itself never sends such rows (ChatService refuses NUL texts and fits names to the column); this
 * guards every other caller. What the database still refuses is handled by salvage().
 */
export function unstorable(m: ChatMessage): string | null {
  if (m.text.includes('\u0000') || m.name.includes('\u0000') || m.room.includes('\u0000'))
    return 'NUL (U+0000) character';
  if (tooLong(m.name, NAME_CHARS)) return `name longer than ${NAME_CHARS} characters`;
  if (tooLong(m.room, ROOM_CHARS)) return `room longer than ${ROOM_CHARS} characters`;
  return null;
}

/** A message's values in insertColumns() order. */
function rowValues(m: ChatMessage): unknown[] {
  return [m.id, m.room, m.user, m.name, m.text, new Date(m.ts), m.bot === true];
}

/**
 * A PostgreSQL batch as JSON, one object per row keyed by column name (`columns` in rowValues'
 * order). `ts` goes as the ISO text it is; names and texts are well-formed already (ChatService.post
 * turns a lone surrogate, which JSON would carry as an escape PostgreSQL refuses, into U+FFFD).
 */
function postgresBatchJson(messages: ChatMessage[], columns: ColumnMetadata[]): string {
  const [id, room, user, name, text, createdAt, bot] = columns.map((c) => c.databaseName);
  return JSON.stringify(
    messages.map((m) => ({
      [id]: m.id,
      [room]: m.room,
      [user]: m.user,
      [name]: m.name,
      [text]: m.text,
      [createdAt]: m.ts,
      [bot]: m.bot === true,
    })),
  );
}

function halves<T>(rows: T[]): T[][] {
  const mid = Math.ceil(rows.length / 2);
  return [rows.slice(0, mid), rows.slice(mid)];
}

function toMessage(row: ChatMessageEntity): ChatMessage {
  return {
    id: row.id,
    room: row.room,
    user: row.userId,
    name: row.name,
    text: row.text,
    ts: row.createdAt.toISOString(),
    ...(row.bot ? { bot: true as const } : {}),
  };
}

/**
 * Chat history. Messages are queued and written in batches off the delivery path; reads merge the
 * database with what is still queued, so a reader never sees a gap while a batch is in flight.
 */
@Injectable()
export class HistoryService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('ChatHistory');
  private pending: ChatMessage[] = [];
  private inFlight: ChatMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private failures = 0;
  /** Set while writes fail for a reason other than a bad row (see salvage); cleared by a write. */
  private lastError: { message: string; since: Date } | null = null;
  private stopped = false;
  /** Ids moderators deleted while queued here (see discard): never written, even on a retry. */
  private readonly discarded = new Set<number>();

  constructor(
    @InjectRepository(ChatMessageEntity) private readonly repo: Repository<ChatMessageEntity>,
    private readonly config: ChatConfig,
    private readonly metrics: MetricsService,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // Pending writes are flushed before the database closes.
    for (let attempt = 0; attempt < 3 && (this.pending.length > 0 || this.flushing); attempt++)
      await this.flush();
  }

  append(message: ChatMessage): void {
    const refused = unstorable(message);
    if (refused) {
      this.dropRow(message, refused);
      return;
    }
    this.pending.push(message);
    this.scheduleFlush();
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.metrics.chatHistoryDropped.inc({ reason: 'overflow' }, dropped.length);
      this.logger.error({ event: 'history_overflow', dropped: dropped.length, firstId: dropped[0].id });
    }
  }

  /**
   * Armed by the first message of a batch (and after a failed write), not an interval: an idle
   * server does not wake up every CHAT_HISTORY_FLUSH_MS for nothing.
   */
  private scheduleFlush(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.config.historyFlushMs);
    this.timer.unref();
  }

  /** Writes everything queued so far; concurrent callers share one flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.length === 0) return Promise.resolve();
    this.flushing = this.writeQueued().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /**
   * Writes what is queued now because another instance is about to read the database (its flush
   * barrier, before a join's `since` replay). True once nothing is left unsaved; false while writes
   * fail: the regular retries go on, and the asker waits out its deadline rather than have this
   * instance hammer a database that is down.
   */
  async flushNow(): Promise<boolean> {
    if (this.lastError) return false;
    await this.flush();
    return this.pending.length === 0;
  }

  private async writeQueued(): Promise<void> {
    while (this.pending.length > 0) {
      this.inFlight = this.pending.splice(0, MAX_BATCH);
      if (this.discarded.size > 0) this.inFlight = this.inFlight.filter((m) => !this.discarded.has(m.id));
      if (this.inFlight.length === 0) continue;
      let unsaved: ChatMessage[] = [];
      let error: unknown = null;
      try {
        await this.insertRows(this.inFlight);
      } catch (err) {
        ({ unsaved, error } = await this.salvage(this.inFlight, err));
      }
      this.inFlight = [];
      if (error === null) {
        if (this.failures > 0) this.logger.log({ event: 'history_writes_resumed', after: this.failures });
        this.failures = 0;
        this.lastError = null;
        continue;
      }
      // The database is unreachable (or cannot write at all): keep them for the next attempt; log
      // once per outage, then every 100th failure.
      this.failures++;
      this.lastError = {
        message: (error as Error).message ?? String(error),
        since: this.lastError?.since ?? new Date(),
      };
      this.pending = unsaved.concat(this.pending);
      if (this.failures === 1 || this.failures % 100 === 0) {
        this.logger.error({
          event: 'history_write_failed',
          queued: this.pending.length,
          attempts: this.failures,
          error: this.lastError.message,
        });
      }
      this.scheduleFlush(); // retried until the database answers again
      return;
    }
  }

  /**
   * A batch INSERT failed: is it one of its rows, or the database? The batch is bisected so that
   * every good row lands; a single row is dropped (logged, counted) only when it is the row's own
   * fault: its error is a data/constraint error (or an unclassified one while other rows of the
   * batch landed) AND the database answers a probe of the table. Anything else (connection refused,
   * timeout, disk full, missing table) is an outage: whatever is unsaved is returned to be retried
   * later, nothing is dropped. A bad row is never retried: it is dropped on its first salvage.
   */
  private async salvage(
    batch: ChatMessage[],
    firstError: unknown,
  ): Promise<{ unsaved: ChatMessage[]; error: unknown }> {
    const outage = (error: unknown, rest: ChatMessage[]) => ({
      unsaved: rest.sort((a, b) => a.id - b.id),
      error,
    });
    if (rowFault(firstError) === 'outage' || !(await this.databaseAnswers()))
      return outage(firstError, batch);
    if (batch.length === 1) {
      // Already tried alone: judged without inserting it again. Unclassified and alone, it cannot
      // be told from an outage: it stays queued and is judged with the next batch it lands in.
      if (rowFault(firstError) !== 'row') return outage(firstError, batch);
      this.dropRow(batch[0], firstError);
      this.inFlight = [];
      return { unsaved: [], error: null };
    }
    const segments = halves(batch);
    const suspects: { row: ChatMessage; error: unknown }[] = [];
    let landed = false;
    while (segments.length > 0) {
      const segment = segments.shift() as ChatMessage[];
      try {
        await this.insertRows(segment);
        landed = true;
        this.forget(segment);
        continue;
      } catch (err) {
        const fault = rowFault(err);
        if (fault === 'outage' || !(await this.databaseAnswers()))
          return outage(err, [...segment, ...segments.flat(), ...suspects.map((s) => s.row)]);
        if (segment.length > 1) segments.unshift(...halves(segment));
        else if (fault === 'row') {
          this.dropRow(segment[0], err);
          this.forget(segment);
        } else suspects.push({ row: segment[0], error: err });
      }
    }
    // Unclassified errors: the row's fault if the database took the other rows meanwhile.
    if (suspects.length > 0 && !landed)
      return outage(
        suspects[0].error,
        suspects.map((s) => s.row),
      );
    for (const s of suspects) this.dropRow(s.row, s.error);
    this.inFlight = [];
    return { unsaved: [], error: null };
  }

  private forget(rows: ChatMessage[]): void {
    const gone = new Set(rows);
    this.inFlight = this.inFlight.filter((m) => !gone.has(m));
  }

  /** A message that will never be saved: logged with its id and room, and counted. */
  private dropRow(row: ChatMessage, why: unknown): void {
    this.metrics.chatHistoryDropped.inc({ reason: 'rejected' });
    this.logger.error({
      event: 'history_row_dropped',
      id: row.id,
      room: row.room,
      reason: typeof why === 'string' ? why : ((why as Error).message ?? String(why)),
      ...(typeof why === 'string' ? {} : { code: errorCode(why) }),
    });
  }

  /** Whether the database answers a trivial read of the history table, within PROBE_TIMEOUT_MS. */
  private async databaseAnswers(): Promise<boolean> {
    try {
      const table = this.repo.manager.connection.driver.escape(this.repo.metadata.tableName);
      await withDeadline(
        this.repo.manager.query(`SELECT 1 FROM ${table} WHERE 1 = 0`),
        PROBE_TIMEOUT_MS,
        'history probe',
      );
      return true;
    } catch {
      return false;
    }
  }

  /** 'failing' while queued messages cannot be written (database down, disk full); `/health` shows it. */
  historyWriteState(): {
    state: 'ok' | 'failing';
    lastError: string | null;
    since: Date | null;
    queued: number;
  } {
    return {
      state: this.lastError ? 'failing' : 'ok',
      lastError: this.lastError?.message ?? null,
      since: this.lastError?.since ?? null,
      queued: this.pending.length + this.inFlight.length,
    };
  }

  /**
   * One INSERT per batch with values converted by the driver exactly as TypeORM would. Not
   * `repo.insert`: its query builder allocates tens of KiB per call, and at one batch every 25 ms
   * that garbage brought major GC pauses into chat latency (bench/RESULTS.md, scenario d).
   *
   * On PostgreSQL the batch travels as one JSON text (see recordsetInsertSql): the statement is the
   * same for every batch size, so the server parses one parameter instead of seven per row (a
   * 50-row multi-row VALUES cost PostgreSQL about 40 µs of CPU per row, the largest single cost of
   * a two-instance cluster in bench scenario b).
   */
  private async insertRows(messages: ChatMessage[]): Promise<void> {
    const { driver } = this.repo.manager.connection;
    const columns = this.insertColumns();
    if (driver.options.type === 'postgres') {
      await this.repo.manager.query(this.recordsetInsertSql(), [postgresBatchJson(messages, columns)]);
      return;
    }
    const params: unknown[] = [];
    for (const m of messages) {
      const row = rowValues(m);
      for (let i = 0; i < row.length; i++) params.push(driver.preparePersistentValue(row[i], columns[i]));
    }
    await this.repo.manager.query(this.insertSql(messages.length), params);
  }

  private recordsetSql: string | null = null;

  /**
   * PostgreSQL: `INSERT … SELECT … FROM json_to_recordset($1::json)`, the batch as one JSON text
   * keyed by column name. One parameter whatever the batch; the client's work is one native
   * JSON.stringify, where a parameter per value (or an array per column, which pg serialises
   * element by element and TypeORM converts value by value) made the history a fifth of what the
   * instance allocated in the Redis pair's bench.
   */
  private recordsetInsertSql(): string {
    if (this.recordsetSql) return this.recordsetSql;
    const { driver } = this.repo.manager.connection;
    const columns = this.insertColumns();
    const names = columns.map((c) => driver.escape(c.databaseName)).join(', ');
    const types = columns
      .map((c) => `${driver.escape(c.databaseName)} ${POSTGRES_COLUMN_TYPES[c.propertyName]}`)
      .join(', ');
    this.recordsetSql =
      `INSERT INTO ${driver.escape(this.repo.metadata.tableName)} (${names}) ` +
      `SELECT ${names} FROM json_to_recordset($1::json) AS batch(${types}) ` +
      `ON CONFLICT (${driver.escape('id')}) DO NOTHING`;
    return this.recordsetSql;
  }

  private columnsCache: ColumnMetadata[] | null = null;
  private readonly sqlCache = new Map<number, string>();

  private insertColumns(): ColumnMetadata[] {
    this.columnsCache ??= (['id', 'room', 'userId', 'name', 'text', 'createdAt', 'bot'] as const).map(
      (property) => {
        const column = this.repo.metadata.findColumnWithPropertyName(property);
        if (!column) throw new Error(`live_chat_message has no column for ${property}`);
        return column;
      },
    );
    return this.columnsCache;
  }

  private insertSql(rows: number): string {
    let sql = this.sqlCache.get(rows);
    if (sql) return sql;
    const { driver } = this.repo.manager.connection;
    const columns = this.insertColumns();
    const postgres = driver.options.type === 'postgres';
    let n = 0;
    const tuple = () => `(${columns.map(() => (postgres ? `$${++n}` : '?')).join(', ')})`;
    const values = Array.from({ length: rows }, tuple).join(', ');
    const names = columns.map((c) => driver.escape(c.databaseName)).join(', ');
    // Idempotent: ids are unique per instance slot, so a stored id means this very message was saved
    // already (a batch whose reply was lost in a network partition lands, then is retried). SQLite
    // (3.24+) and PostgreSQL both take this clause.
    sql =
      `INSERT INTO ${driver.escape(this.repo.metadata.tableName)} (${names}) VALUES ${values} ` +
      `ON CONFLICT (${driver.escape('id')}) DO NOTHING`;
    if (this.sqlCache.size < 64) this.sqlCache.set(rows, sql);
    return sql;
  }

  private unsaved(room: string): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (const m of this.inFlight) if (m.room === room) out.push(m);
    for (const m of this.pending) if (m.room === room) out.push(m);
    return out;
  }

  /** Merges saved rows and unsaved messages, oldest first, without duplicates. */
  private merge(saved: ChatMessage[], unsaved: ChatMessage[]): ChatMessage[] {
    if (unsaved.length === 0) return saved;
    const byId = new Map<number, ChatMessage>();
    for (const m of saved) byId.set(m.id, m);
    for (const m of unsaved) byId.set(m.id, m);
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  /** The last `limit` messages of a room, oldest first. */
  async recent(room: string, limit: number): Promise<ChatMessage[]> {
    if (limit <= 0) return [];
    const unsaved = this.unsaved(room);
    const rows = await this.repo.find({ where: { room }, order: { id: 'DESC' }, take: limit });
    return this.merge(rows.reverse().map(toMessage), unsaved).slice(-limit);
  }

  /** What came after `sinceId`, oldest first, at most `limit` (and whether more exist). */
  async after(
    room: string,
    sinceId: number,
    limit: number,
  ): Promise<{ messages: ChatMessage[]; truncated: boolean }> {
    const unsaved = this.unsaved(room).filter((m) => m.id > sinceId);
    const rows = await this.repo.find({
      where: { room, id: MoreThan(sinceId) },
      order: { id: 'ASC' },
      take: limit + 1,
    });
    const all = this.merge(rows.map(toMessage), unsaved);
    return { messages: all.slice(0, limit), truncated: all.length > limit };
  }

  /** A page of older messages: those before `beforeId` (or the newest), oldest first. */
  async page(
    room: string,
    beforeId: number | undefined,
    limit: number,
  ): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
    const where = beforeId === undefined ? { room } : { room, id: LessThan(beforeId) };
    const unsaved = this.unsaved(room).filter((m) => beforeId === undefined || m.id < beforeId);
    const rows = await this.repo.find({ where, order: { id: 'DESC' }, take: limit + 1 });
    const all = this.merge(rows.reverse().map(toMessage), unsaved);
    return { messages: all.slice(-limit), hasMore: all.length > limit };
  }

  /** One message of a room by id, saved or still queued; null when there is none. */
  async find(room: string, id: number): Promise<ChatMessage | null> {
    const queued = this.unsaved(room).find((m) => m.id === id);
    if (queued) return queued;
    const row = await this.repo.findOneBy({ room, id });
    return row ? toMessage(row) : null;
  }

  /**
   * A moderator deleted a message (ModerationService deletes the row): it must not be written after
   * that. Taken out of the queue; if its batch is being written right now, its row is deleted once
   * that write settles. Every instance does this when it hears of the deletion.
   */
  discard(room: string, id: number): void {
    this.discarded.add(id);
    if (this.discarded.size > 10_000) this.discarded.delete(this.discarded.values().next().value as number);
    this.pending = this.pending.filter((m) => m.id !== id);
    if (this.inFlight.some((m) => m.id === id))
      void (this.flushing ?? Promise.resolve())
        .then(() => this.repo.delete({ room, id }))
        .catch((err: Error) =>
          this.logger.error({ event: 'history_discard_failed', room, id, error: err.message }),
        );
  }

  /** Applies the retention rules: age first, then the per-room count. Returns rows deleted. */
  async enforceRetention(now = Date.now()): Promise<number> {
    await this.flush();
    let deleted = 0;
    if (this.config.historyMaxAgeDays > 0) {
      const cutoff = new Date(now - this.config.historyMaxAgeDays * 86_400_000);
      deleted += (await this.repo.delete({ createdAt: LessThan(cutoff) })).affected ?? 0;
    }
    const keep = this.config.historyMaxPerRoom;
    if (keep > 0) {
      const crowded: { room: string }[] = await this.repo
        .createQueryBuilder('m')
        .select('m.room', 'room')
        .groupBy('m.room')
        .having('COUNT(*) > :keep', { keep })
        .getRawMany();
      for (const { room } of crowded) {
        const boundary = await this.repo.find({
          where: { room },
          order: { id: 'DESC' },
          skip: keep - 1,
          take: 1,
        });
        if (boundary.length === 0) continue;
        deleted += (await this.repo.delete({ room, id: LessThan(boundary[0].id) })).affected ?? 0;
      }
    }
    return deleted;
  }
}
