import request from 'supertest';
import { DataSource } from 'typeorm';
import { ChatService } from '../src/chat/chat.service';
import { ChatMessage } from '../src/chat/chat.protocol';
import { HistoryService } from '../src/chat/history.service';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login } from './support/users';
import { eventually, openWs, WsClient } from './support/ws';

/**
 * Issue 14, data loss: one bad message must never stop history. On the real databases (SQLite
 * always, PostgreSQL when reachable, always in CI), with the migrated schema.
 */
describe.each(databaseVariants())('history safety on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let history: HistoryService;
  let chat: ChatService;
  let db: DataSource;
  const open: WsClient[] = [];

  const message = (room: string, text: string, name = 'Anonymous troll'): ChatMessage => ({
    id: chat.ids.next(),
    room,
    user: null,
    name,
    text,
    ts: new Date().toISOString(),
  });
  const storedTexts = async (room: string): Promise<string[]> =>
    (
      (await db.query(
        `SELECT text FROM live_chat_message WHERE room = ${variant.name === 'sqlite' ? '?' : '$1'} ORDER BY id`,
        [room],
      )) as { text: string }[]
    ).map((r) => r.text);
  const droppedTotal = async (): Promise<number> => {
    const res = await request(t.baseUrl).get('/metrics').expect(200);
    const line = /^live_chat_history_dropped_total\{reason="rejected"\} (\d+)$/m.exec(res.text);
    if (!line) throw new Error('live_chat_history_dropped_total{reason="rejected"} not exposed');
    return Number(line[1]);
  };
  /** The ChatHistory logger's error lines while `work` runs (kept out of the test output). */
  const logged = async (work: () => Promise<void>): Promise<string[]> => {
    const logger = (history as unknown as { logger: { error: (m: string) => void } }).logger;
    const spy = jest.spyOn(logger, 'error').mockImplementation();
    try {
      await work();
      return spy.mock.calls.map((c) => JSON.stringify(c[0]));
    } finally {
      spy.mockRestore();
    }
  };

  beforeAll(async () => {
    const setup = await variant.setup();
    teardownDb = setup.teardown;
    t = await startApp({ ...setup.env, CHAT_HISTORY_FLUSH_MS: '20', CHAT_RATE: '100', CHAT_BURST: '100' });
    history = t.app.get(HistoryService);
    chat = t.app.get(ChatService);
    db = t.app.get(DataSource);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });
  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  it('a batch with a NUL text, a 400-character name and an already stored id: every good row lands', async () => {
    const before = await droppedTotal();
    // An id that is already stored is this message saved before (a retry after a lost reply): kept once.
    const taken = message('batch', 'taken first');
    history.append(taken);
    await history.flush();
    const good = (i: number) => message('batch', `good ${i}`);
    const rows = [
      ...Array.from({ length: 30 }, (_, i) => good(i)),
      message('batch', 'a\u0000b'),
      message('batch', 'long name', 'n'.repeat(400)),
      { ...taken, text: 'same id again' },
      ...Array.from({ length: 30 }, (_, i) => good(30 + i)),
    ];
    const errors = await logged(async () => {
      for (const r of rows) history.append(r);
      await history.flush();
    });
    const expected = ['taken first', ...Array.from({ length: 60 }, (_, i) => `good ${i}`)];
    expect(await storedTexts('batch')).toEqual(expected);
    expect((await droppedTotal()) - before).toBe(2);
    const drops = errors.filter((e) => e.includes('history_row_dropped')).map((e) => JSON.parse(e));
    expect(drops.map((d: { id: number }) => d.id).sort()).toEqual([rows[30].id, rows[31].id].sort());
    for (const d of drops) expect(d).toMatchObject({ room: 'batch', reason: expect.any(String) });
    expect(errors.filter((e) => e.includes('history_write_failed'))).toEqual([]);
    expect(history.historyWriteState().state).toBe('ok');
    // Nothing is retried: later appends land on their own flush timer.
    history.append(message('batch', 'later'));
    await eventually(async () => (await storedTexts('batch')).includes('later'), 3000);
    expect((await droppedTotal()) - before).toBe(2);
  });

  it('every value a message can hold is stored exactly as sent (PostgreSQL takes a batch as one JSON text)', async () => {
    const user = await createUser(t, { username: 'exact-bytes', password: 'exact-bytes-pass-1' });
    const texts = [
      'plain',
      '',
      ' ',
      'NULL',
      'null',
      '{}',
      '{"a":1,"b":[2,3]}',
      'comma, "quotes", and \\ backslashes \\"',
      'braces {a,b} and \\{escaped\\}',
      'line one\nline two\r\n\ttabbed',
      'emoji 🎉 and ünïcödé and 中文',
      "it's a 'single' quote",
      'x'.repeat(5000),
    ];
    const sent: ChatMessage[] = texts.map((text, i) => ({
      ...message('exact', text, i % 2 ? 'NULL' : 'Ann "the" {admin}, \\ok'),
      user: i % 3 === 0 ? user.id : null,
      ts: new Date(Date.UTC(2026, 10, 28, 12, 0, 0, i * 7 + 1)).toISOString(),
      ...(i % 4 === 0 ? { bot: true as const } : {}),
    }));
    for (const m of sent) history.append(m);
    await history.flush();
    expect(history.historyWriteState().state).toBe('ok');
    expect(await history.recent('exact', 100)).toEqual(sent);
  });

  it('a lone UTF-16 surrogate (a live.v1 text may carry one) is posted, sent and stored as U+FFFD on either database', async () => {
    const before = await droppedTotal();
    const posted = [
      chat.post('surrogates', null, 'Anonymous troll', 'before'),
      chat.post('surrogates', null, 'Anonymous troll', 'lone high \ud83d end'),
      chat.post('surrogates', null, 'name \ud800', 'lone low \ude00'),
      chat.post('surrogates', null, 'Anonymous troll', 'a pair 😀 stays'),
    ];
    const expected = [
      ['Anonymous troll', 'before'],
      ['Anonymous troll', 'lone high \ufffd end'],
      ['name \ufffd', 'lone low \ufffd'],
      ['Anonymous troll', 'a pair 😀 stays'],
    ];
    expect(posted.map((m) => [m.name, m.text])).toEqual(expected); // what the room's sockets get
    await history.flush();
    expect(history.historyWriteState().state).toBe('ok');
    expect((await droppedTotal()) - before).toBe(0);
    const stored = await history.recent('surrogates', 10);
    expect(stored.map((m) => [m.name, m.text])).toEqual(expected);
  });

  it('the bisecting safety net also catches what only the database refuses', async () => {
    // Bypass the pre-checks in append(): these rows go to the database as they are. PostgreSQL
    // refuses both (NUL in text, varchar(300) overflow); SQLite takes them (it has neither limit).
    const before = await droppedTotal();
    const pending = (history as unknown as { pending: ChatMessage[] }).pending;
    const rows = [
      message('net', 'one'),
      message('net', 'a\u0000b'),
      message('net', 'two'),
      message('net', 'long', 'n'.repeat(400)),
      message('net', 'three'),
    ];
    const bad = [rows[1], rows[3]];
    const errors = await logged(async () => {
      for (const r of rows)
        if (bad.includes(r)) pending.push(r);
        else history.append(r);
      await history.flush();
    });
    if (variant.name === 'sqlite') {
      expect(await storedTexts('net')).toEqual(['one', 'a\u0000b', 'two', 'long', 'three']);
      expect((await droppedTotal()) - before).toBe(0);
    } else {
      expect(await storedTexts('net')).toEqual(['one', 'two', 'three']);
      expect((await droppedTotal()) - before).toBe(2);
      const drops = errors.filter((e) => e.includes('history_row_dropped')).map((e) => JSON.parse(e));
      expect(drops.map((d: { id: number; code: string }) => [d.id, d.code])).toEqual([
        [bad[0].id, '22P05'], // "unsupported Unicode escape sequence": the batch travels as JSON
        [bad[1].id, '22001'],
      ]);
    }
    expect(history.historyWriteState().state).toBe('ok');
  });

  it('over a socket: a NUL text is refused (live.v1: bad_request; plain: not relayed), the rest is saved', async () => {
    const url = `ws://127.0.0.1:${t.port}/chat/nul/`;
    const v1 = await openWs(url, { protocols: ['live.v1'] });
    const plain = await openWs(url);
    const listener = await openWs(url);
    open.push(v1, plain, listener);
    await Promise.all([v1.next(), plain.next(), listener.next()]);
    v1.send(JSON.stringify({ type: 'message', text: 'a\u0000b' }));
    for (;;) {
      const f = await v1.nextJson<{ type: string; code?: string; message?: string }>();
      if (f.type === 'error') {
        expect(f).toMatchObject({ type: 'error', code: 'bad_request' });
        expect(f.message).toMatch(/NUL/);
        break;
      }
      expect(f.type).not.toBe('message');
    }
    plain.send('c\u0000d');
    plain.send('after the NUL');
    v1.send(JSON.stringify({ type: 'message', text: 'v1 after the NUL' }));
    // The plain seed protocol stays byte-exact, and the NUL text never reaches anyone.
    expect(await listener.next()).toBe('<Anonymous troll> after the NUL');
    expect(await listener.next()).toBe('<Anonymous troll> v1 after the NUL');
    expect(plain.buffered().filter((f) => f.includes('\u0000'))).toEqual([]);
    await eventually(async () => (await storedTexts('nul')).length === 2, 3000);
    const res = await request(t.baseUrl).get('/chat/rooms/nul/messages').expect(200);
    expect((res.body as { messages: ChatMessage[] }).messages.map((m) => m.text)).toEqual([
      'after the NUL',
      'v1 after the NUL',
    ]);
    expect(await storedTexts('nul')).toEqual(['after the NUL', 'v1 after the NUL']);
  });

  it('a 301-character display name (150 + space + 150) is fitted to the column and its messages saved', async () => {
    await createUser(t, {
      username: `longname_${variant.name.replace('+', '_')}`,
      password: 'pw',
      firstName: 'F'.repeat(150),
      lastName: 'L'.repeat(150),
    });
    const session = await login(t, `longname_${variant.name.replace('+', '_')}`, 'pw');
    const c = await openWs(`ws://127.0.0.1:${t.port}/chat/longname/`, {
      protocols: ['live.v1'],
      headers: { Cookie: session.cookie },
    });
    open.push(c);
    const welcome = await c.nextJson<{ type: string; name: string }>();
    expect(welcome.type).toBe('welcome');
    expect(welcome.name).toBe(`${'F'.repeat(150)} ${'L'.repeat(149)}`);
    c.send(JSON.stringify({ type: 'message', text: 'from a long name' }));
    await eventually(async () => (await storedTexts('longname')).length === 1, 3000);
    const res = await request(t.baseUrl).get('/chat/rooms/longname/messages').expect(200);
    const [saved] = (res.body as { messages: ChatMessage[] }).messages;
    expect(saved).toMatchObject({ text: 'from a long name', name: welcome.name });
    expect([...saved.name]).toHaveLength(300);
  });

  it('/health reports history degraded while writes fail, nothing is lost, and up again after', async () => {
    const health = async () =>
      (await request(t.baseUrl).get('/health')).body as {
        status: string;
        components: Record<string, { status: string; detail?: string }>;
      };
    expect((await health()).components.history).toEqual({ status: 'up' });
    const errors = await logged(async () => {
      await db.query('ALTER TABLE live_chat_message RENAME TO live_chat_message_away');
      try {
        for (let i = 0; i < 5; i++) history.append(message('outage', `kept ${i}`));
        await eventually(() => history.historyWriteState().state === 'failing', 3000);
        const report = await health();
        expect(report.components.history.status).toBe('degraded');
        expect(report.components.history.detail).toMatch(/history writes failing/);
      } finally {
        await db.query('ALTER TABLE live_chat_message_away RENAME TO live_chat_message');
      }
      await eventually(() => history.historyWriteState().state === 'ok', 3000);
    });
    expect(errors.some((e) => e.includes('history_write_failed'))).toBe(true);
    expect(errors.filter((e) => e.includes('history_row_dropped'))).toEqual([]);
    expect(await storedTexts('outage')).toEqual(Array.from({ length: 5 }, (_, i) => `kept ${i}`));
    expect((await health()).components.history).toEqual({ status: 'up' });
  });
});
