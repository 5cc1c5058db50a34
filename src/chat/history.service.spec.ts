import { DataSource } from 'typeorm';
import { ChatConfig } from './chat.config';
import { ChatMessageEntity } from './chat-message.entity';
import { HistoryService, rowFault } from './history.service';
import { MetricsService } from '../metrics/metrics.service';

/** A throwaway in-memory SQLite database (synchronize is fine here: nothing is migrated or kept). */
describe('HistoryService batching', () => {
  let db: DataSource;
  let history: HistoryService;
  let metrics: MetricsService;
  const message = (id: number) => ({
    id,
    room: 'lobby',
    user: null,
    name: 'Anonymous troll',
    text: `m${id}`,
    ts: new Date().toISOString(),
  });
  const storedIds = async () =>
    (await db.getRepository(ChatMessageEntity).find({ order: { id: 'ASC' } })).map((r) => r.id);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeEach(async () => {
    db = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [ChatMessageEntity],
      synchronize: true,
    });
    await db.initialize();
    metrics = new MetricsService();
    history = new HistoryService(
      db.getRepository(ChatMessageEntity),
      new ChatConfig({ CHAT_HISTORY_FLUSH_MS: '20' }),
      metrics,
    );
  });
  afterEach(async () => {
    await history.beforeApplicationShutdown();
    await db.destroy();
  });

  it('writes a batch one flush interval after its first message, with no timer while idle', async () => {
    history.append(message(1));
    history.append(message(2));
    expect(await storedIds()).toEqual([]);
    await sleep(80);
    expect(await storedIds()).toEqual([1, 2]);
    // Idle: nothing armed, so nothing keeps waking the process.
    expect((history as unknown as { timer: unknown }).timer).toBeNull();
    history.append(message(3));
    await sleep(80);
    expect(await storedIds()).toEqual([1, 2, 3]);
  });

  it('keeps a bot message marked and other messages without a bot key, queued and stored', async () => {
    const bot = { ...message(1), name: 'Deploy bot', bot: true as const };
    history.append(bot);
    history.append(message(2));
    expect((await history.recent('lobby', 10)).map((m) => m.bot)).toEqual([true, undefined]);
    await history.flush();
    const rows = await db.getRepository(ChatMessageEntity).find({ order: { id: 'ASC' } });
    expect(rows.map((r) => r.bot)).toEqual([true, false]);
    expect(await history.recent('lobby', 10)).toEqual(
      [bot, message(2)].map((m) => ({ ...m, ts: expect.any(String) })),
    );
    expect('bot' in (await history.page('lobby', undefined, 10)).messages[1]).toBe(false);
  });

  it('keeps retrying a failed batch on its own until the database takes it', async () => {
    const logged = jest.spyOn((history as unknown as { logger: { error: () => void } }).logger, 'error');
    logged.mockImplementation();
    await db.query('ALTER TABLE live_chat_message RENAME TO live_chat_message_away');
    history.append(message(7));
    await sleep(100);
    expect(logged).toHaveBeenCalledTimes(1); // once per outage, not per attempt
    expect(JSON.stringify(logged.mock.calls[0])).toMatch(/history_write_failed/);
    // No new message arrives: the retry must come from the service itself.
    await db.query('ALTER TABLE live_chat_message_away RENAME TO live_chat_message');
    await sleep(100);
    expect(await storedIds()).toEqual([7]);
  });

  const dropped = async () =>
    (await metrics.chatHistoryDropped.get()).values.find((v) => v.labels.reason === 'rejected')?.value;
  const quietLogger = () => {
    const spy = jest.spyOn(
      (history as unknown as { logger: { error: (m: string) => void } }).logger,
      'error',
    );
    spy.mockImplementation();
    return spy;
  };

  it('flushNow (another instance is about to read): writes the batch at once, false while writes fail', async () => {
    history.append(message(1));
    history.append(message(2));
    expect(await history.flushNow()).toBe(true);
    expect(await storedIds()).toEqual([1, 2]); // before the 20 ms flush interval
    quietLogger();
    await db.query('ALTER TABLE live_chat_message RENAME TO live_chat_message_away');
    history.append(message(3));
    expect(await history.flushNow()).toBe(false);
    // While writes fail, asking again does not add attempts: the regular retries go on alone.
    const inserts = jest.spyOn(history as unknown as { insertRows: () => Promise<void> }, 'insertRows');
    expect(await history.flushNow()).toBe(false);
    expect(inserts).not.toHaveBeenCalled();
    await db.query('ALTER TABLE live_chat_message_away RENAME TO live_chat_message');
    await sleep(100);
    expect(await history.flushNow()).toBe(true);
    expect(await storedIds()).toEqual([1, 2, 3]);
  });

  it('splits a batch the database refuses: every good row lands, the bad one is dropped once', async () => {
    const logged = quietLogger();
    // A row SQLite itself refuses (the pre-checks in append() do not look at it): a NULL text,
    // queued directly as a bug elsewhere could.
    const pending = (history as unknown as { pending: unknown[] }).pending;
    for (let id = 1; id <= 40; id++) {
      if (id === 17) pending.push({ ...message(17), text: null });
      else history.append(message(id));
    }
    await history.flush();
    expect(await storedIds()).toEqual(Array.from({ length: 40 }, (_, i) => i + 1).filter((id) => id !== 17));
    expect(await dropped()).toBe(1);
    const drops = logged.mock.calls
      .map((c) => JSON.stringify(c[0]))
      .filter((l) => l.includes('history_row_dropped'));
    expect(drops).toHaveLength(1);
    expect(JSON.parse(drops[0])).toMatchObject({ event: 'history_row_dropped', id: 17, room: 'lobby' });
    expect(history.historyWriteState().state).toBe('ok');
    // Not retried: the next batch lands on its own.
    history.append(message(41));
    await history.flush();
    expect(await storedIds()).toContain(41);
    expect(await dropped()).toBe(1);
  });

  it('an id that is already stored counts as saved: a retried batch after a lost reply is not a bad row', async () => {
    const logged = quietLogger();
    await db.getRepository(ChatMessageEntity).insert({
      id: 5,
      room: 'lobby',
      userId: null,
      name: 'Anonymous troll',
      text: 'm5',
      createdAt: new Date(),
    });
    for (let id = 1; id <= 10; id++) history.append(message(id));
    await history.flush();
    expect(await storedIds()).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(await dropped()).toBe(0);
    expect(logged.mock.calls.filter((c) => JSON.stringify(c[0]).includes('history_row_dropped'))).toEqual([]);
  });

  it('refuses NUL and over-long values before queueing, the same on every engine', async () => {
    quietLogger();
    history.append({ ...message(1), text: 'a\u0000b' });
    history.append({ ...message(2), name: 'n'.repeat(301) });
    history.append({ ...message(3), name: '😀'.repeat(300) }); // 300 characters, 600 UTF-16 units: fits
    history.append(message(4));
    await history.flush();
    expect(await storedIds()).toEqual([3, 4]);
    expect(await dropped()).toBe(2);
  });

  it('a full disk is an outage, not a bad row: nothing dropped, state failing, retried until space is back', async () => {
    const logged = quietLogger();
    history.append(message(1));
    await history.flush();
    const [{ page_count: pages }] = (await db.query('PRAGMA page_count')) as { page_count: number }[];
    await db.query(`PRAGMA max_page_count = ${pages}`);
    for (let id = 2; id <= 400; id++) history.append({ ...message(id), text: 'x'.repeat(200) });
    await sleep(100);
    expect(await dropped()).toBe(0);
    const failing = history.historyWriteState();
    expect(failing.state).toBe('failing');
    expect(failing.lastError).toMatch(/full/i);
    expect(failing.queued).toBe(399);
    expect(JSON.stringify(logged.mock.calls[0])).toMatch(/history_write_failed/);
    // Reads still see the queued messages.
    expect((await history.recent('lobby', 500)).length).toBe(400);
    await db.query('PRAGMA max_page_count = 1073741823');
    await sleep(150);
    expect((await storedIds()).length).toBe(400);
    expect(history.historyWriteState()).toMatchObject({ state: 'ok', lastError: null, queued: 0 });
  });

  it('classifies driver errors: the row, the database, or unknown', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(rowFault(err('22021'))).toBe('row'); // PostgreSQL: NUL in text
    expect(rowFault(err('22001'))).toBe('row'); // PostgreSQL: value too long for varchar
    expect(rowFault(err('23505'))).toBe('row');
    expect(rowFault(err('SQLITE_CONSTRAINT_PRIMARYKEY'))).toBe('row');
    expect(rowFault(err('08006'))).toBe('outage');
    expect(rowFault(err('53100'))).toBe('outage'); // PostgreSQL: disk full
    expect(rowFault(err('57P01'))).toBe('outage');
    expect(rowFault(err('SQLITE_FULL'))).toBe('outage');
    expect(rowFault(err('SQLITE_IOERR_WRITE'))).toBe('outage');
    expect(rowFault(err('ECONNREFUSED'))).toBe('outage');
    expect(rowFault(new Error('Connection terminated unexpectedly'))).toBe('unknown');
    expect(rowFault(err('SQLITE_ERROR'))).toBe('unknown');
    expect(rowFault({ driverError: { code: '22021' } })).toBe('row');
  });
});
