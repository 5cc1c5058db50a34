import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, MoreThan, Repository } from 'typeorm';
import { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { ChatConfig } from './chat.config';
import { ChatMessageEntity } from './chat-message.entity';
import { ChatMessage } from './chat.protocol';

/** Past this many unsaved messages (the database is down), the oldest are dropped and logged. */
const MAX_PENDING = 200_000;
const MAX_BATCH = 1000;

function toMessage(row: ChatMessageEntity): ChatMessage {
  return {
    id: row.id,
    room: row.room,
    user: row.userId,
    name: row.name,
    text: row.text,
    ts: row.createdAt.toISOString(),
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
  private stopped = false;

  constructor(
    @InjectRepository(ChatMessageEntity) private readonly repo: Repository<ChatMessageEntity>,
    private readonly config: ChatConfig,
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
    this.pending.push(message);
    this.scheduleFlush();
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.logger.error(
        JSON.stringify({ event: 'history_overflow', dropped: dropped.length, firstId: dropped[0].id }),
      );
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

  private async writeQueued(): Promise<void> {
    while (this.pending.length > 0) {
      this.inFlight = this.pending.splice(0, MAX_BATCH);
      try {
        await this.insertRows(this.inFlight);
        if (this.failures > 0)
          this.logger.log(JSON.stringify({ event: 'history_writes_resumed', after: this.failures }));
        this.failures = 0;
        this.inFlight = [];
      } catch (err) {
        this.failures++;
        // Keep them for the next attempt; log once per outage, then every 100th failure.
        this.pending = this.inFlight.concat(this.pending);
        this.inFlight = [];
        if (this.failures === 1 || this.failures % 100 === 0) {
          this.logger.error(
            JSON.stringify({
              event: 'history_write_failed',
              queued: this.pending.length,
              attempts: this.failures,
              error: (err as Error).message,
            }),
          );
        }
        this.scheduleFlush(); // retried until the database answers again
        return;
      }
    }
  }

  /**
   * One multi-row INSERT with values converted by the driver exactly as TypeORM would. Not
   * `repo.insert`: its query builder allocates tens of KiB per call, and at one batch every 25 ms
   * that garbage brought major GC pauses into chat latency (bench/RESULTS.md, scenario d).
   */
  private async insertRows(messages: ChatMessage[]): Promise<void> {
    const { driver } = this.repo.manager.connection;
    const columns = this.insertColumns();
    const params: unknown[] = [];
    for (const m of messages) {
      const row = [m.id, m.room, m.user, m.name, m.text, new Date(m.ts)];
      for (let i = 0; i < row.length; i++) params.push(driver.preparePersistentValue(row[i], columns[i]));
    }
    await this.repo.manager.query(this.insertSql(messages.length), params);
  }

  private columnsCache: ColumnMetadata[] | null = null;
  private readonly sqlCache = new Map<number, string>();

  private insertColumns(): ColumnMetadata[] {
    this.columnsCache ??= (['id', 'room', 'userId', 'name', 'text', 'createdAt'] as const).map((property) => {
      const column = this.repo.metadata.findColumnWithPropertyName(property);
      if (!column) throw new Error(`chat_message has no column for ${property}`);
      return column;
    });
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
    sql = `INSERT INTO ${driver.escape(this.repo.metadata.tableName)} (${names}) VALUES ${values}`;
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
