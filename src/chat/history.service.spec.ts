import { DataSource } from 'typeorm';
import { ChatConfig } from './chat.config';
import { ChatMessageEntity } from './chat-message.entity';
import { HistoryService } from './history.service';

/** A throwaway in-memory SQLite database (synchronize is fine here: nothing is migrated or kept). */
describe('HistoryService batching', () => {
  let db: DataSource;
  let history: HistoryService;
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
    history = new HistoryService(
      db.getRepository(ChatMessageEntity),
      new ChatConfig({ CHAT_HISTORY_FLUSH_MS: '20' }),
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

  it('keeps retrying a failed batch on its own until the database takes it', async () => {
    const logged = jest.spyOn((history as unknown as { logger: { error: () => void } }).logger, 'error');
    logged.mockImplementation();
    await db.query('ALTER TABLE chat_message RENAME TO chat_message_away');
    history.append(message(7));
    await sleep(100);
    expect(logged).toHaveBeenCalledTimes(1); // once per outage, not per attempt
    expect(String(logged.mock.calls[0])).toMatch(/history_write_failed/);
    // No new message arrives: the retry must come from the service itself.
    await db.query('ALTER TABLE chat_message_away RENAME TO chat_message');
    await sleep(100);
    expect(await storedIds()).toEqual([7]);
  });
});
