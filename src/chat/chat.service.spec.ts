import { MetricsService } from '../metrics/metrics.service';
import { ChannelLayer, InMemoryChannelLayer } from './channel-layer';
import { ChatConfig } from './chat.config';
import { ChatMessage } from './chat.protocol';
import { FakeChatSocket } from './chat.fakes';
import { ChatJoin, ChatService } from './chat.service';
import { HistoryService } from './history.service';
import { InstanceSlot } from './instance-slot';
import { InMemoryPresence } from './presence';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** live.v1 frames received, presence notices left out (they are not held for a joining socket). */
const frames = (ws: FakeChatSocket) => ws.frames().filter((f) => f.type !== 'presence');

/**
 * A joining socket's history read stands for a database that hangs (PostgreSQL black-holed) or
 * fails: live messages must still reach it, after `history_unavailable`, without duplicates.
 */
describe('ChatService', () => {
  let chat: ChatService;
  let reads: { room: string; resolve: (m: ChatMessage[]) => void; reject: (e: Error) => void }[];
  let history: HistoryService;
  let appended: string[];

  const join = (v1: boolean, wanted: number | null): ChatJoin => ({
    room: 'hung',
    name: 'Anonymous troll',
    userId: null,
    v1,
    history: wanted,
    since: null,
  });
  const connect = (v1: boolean, wanted: number | null, ws = new FakeChatSocket()) => {
    chat.connect(ws, join(v1, wanted));
    return ws;
  };

  beforeEach(async () => {
    reads = [];
    appended = [];
    history = {
      recent: (room: string) =>
        new Promise<ChatMessage[]>((resolve, reject) => reads.push({ room, resolve, reject })),
      after: () => new Promise(() => undefined),
      append: (m: ChatMessage) => appended.push(m.text),
    } as unknown as HistoryService;
    const slot = { acquire: async (onChange: (n: number) => void) => (onChange(1), 1) };
    chat = new ChatService(
      // A deadline well clear of the sleeps below, so a loaded CI machine cannot pass it early.
      new ChatConfig({ CHAT_HISTORY_JOIN_TIMEOUT_MS: '1000', CHAT_HISTORY_FLUSH_MS: '20' }),
      new InMemoryChannelLayer() as ChannelLayer,
      new InMemoryPresence(),
      history,
      slot as unknown as InstanceSlot,
      new MetricsService(),
    );
    await chat.onModuleInit();
  });
  afterEach(async () => {
    await chat.onModuleDestroy();
  });

  it('a read that never answers: history_unavailable after the deadline, then held and live messages', async () => {
    const joining = connect(true, null);
    await sleep(10);
    expect(reads).toHaveLength(1); // the read started and hangs
    const first = chat.post('hung', null, 'Speaker', 'while loading');
    await sleep(50);
    // Held while the history may still come (so nothing is sent out of order).
    expect(frames(joining).map((f) => f.type)).toEqual(['welcome']);
    await sleep(1000);
    const second = chat.post('hung', null, 'Speaker', 'after the deadline');
    const seen = frames(joining);
    expect(seen.map((f) => f.type)).toEqual(['welcome', 'error', 'message', 'message']);
    expect(seen[1]).toMatchObject({ type: 'error', code: 'history_unavailable' });
    expect(seen.slice(2).map((f) => f.text)).toEqual([first.text, second.text]);
    // The read answers at last: too late, it is ignored (no history frame after live messages).
    reads[0].resolve([first]);
    await sleep(10);
    expect(frames(joining)).toHaveLength(4);
  });

  it('a read that fails: history_unavailable at once, then live messages; plain clients get the messages', async () => {
    const v1 = connect(true, null);
    const plain = connect(false, 10);
    await sleep(10);
    const held = chat.post('hung', null, 'Speaker', 'held');
    for (const r of reads) r.reject(new Error('connection refused'));
    await sleep(10);
    chat.post('hung', null, 'Speaker', 'live');
    expect(frames(v1).map((f) => f.type)).toEqual(['welcome', 'error', 'message', 'message']);
    expect(frames(v1)[1]).toMatchObject({ code: 'history_unavailable' });
    expect(plain.texts()).toEqual([
      'Bienvenue Anonymous troll !',
      `<Speaker> ${held.text}`,
      '<Speaker> live',
    ]);
  });

  it('a read within the deadline: history, then held messages minus those it already held', async () => {
    const joining = connect(true, null);
    await sleep(10);
    const a = chat.post('hung', null, 'Speaker', 'in history too');
    const b = chat.post('hung', null, 'Speaker', 'only live');
    reads[0].resolve([a]);
    await sleep(10);
    const seen = frames(joining);
    expect(seen.map((f) => f.type)).toEqual(['welcome', 'history', 'message']);
    expect(seen[1].messages?.map((m) => m.id)).toEqual([a.id]);
    expect(seen[2].text).toBe(b.text);
  });

  it('post stores the message and reaches every socket of the room in its protocol', async () => {
    const v1 = connect(true, 0);
    const plain = connect(false, null);
    const m = chat.post('hung', 3, 'Speaker\u0000', 'hello');
    expect(m).toMatchObject({ room: 'hung', user: 3, name: 'Speaker\uFFFD', text: 'hello' });
    expect(appended).toEqual(['hello']);
    expect(frames(v1).slice(1)).toEqual([{ type: 'message', ...m }]);
    expect(plain.texts().slice(1)).toEqual(['<Speaker\uFFFD> hello']);
    expect(chat.socketCount).toBe(2);
    expect(chat.clientsIn('hung').map((c) => c.ws)).toEqual([v1, plain]);
  });

  it('shutdown: held messages, then 1001; nothing accepted after; waits for the peers to answer', async () => {
    const joining = connect(true, null); // its history read hangs: the message below is held
    const slowPeer = connect(false, 0, new FakeChatSocket({ answersClose: false }));
    await sleep(10);
    const held = chat.post('hung', null, 'Speaker', 'held');
    let done = false;
    const stopping = chat.onModuleDestroy().then(() => (done = true));
    expect(frames(joining).map((f) => f.type)).toEqual(['welcome', 'message']);
    expect(frames(joining)[1].text).toBe(held.text);
    expect(joining.closedWith).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(slowPeer.closedWith?.code).toBe(1001);
    slowPeer.receive('too late');
    expect(appended).toEqual(['held']);
    const late = connect(true, null);
    expect(late.texts()).toEqual([]);
    expect(late.closedWith?.code).toBe(1001);
    await sleep(30);
    expect(done).toBe(false); // the slow peer has not answered its close frame yet
    slowPeer.terminate();
    await stopping;
    expect(chat.socketCount).toBe(0);
  });

  it("answers another instance's flush barrier by writing its history now", async () => {
    const layer = new InMemoryChannelLayer();
    let handler: (() => Promise<boolean>) | undefined;
    jest.spyOn(layer, 'setFlushHandler').mockImplementation((h) => (handler = h));
    const flushNow = jest.fn(async () => true);
    const slot = { acquire: async (onChange: (n: number) => void) => (onChange(1), 1) };
    const other = new ChatService(
      new ChatConfig({}),
      layer,
      new InMemoryPresence(),
      { flushNow } as unknown as HistoryService,
      slot as unknown as InstanceSlot,
      new MetricsService(),
    );
    await other.onModuleInit();
    expect(await handler?.()).toBe(true);
    expect(flushNow).toHaveBeenCalledTimes(1);
    await other.onModuleDestroy();
  });

  it('CHAT_HISTORY_JOIN_TIMEOUT_MS defaults to 3000 and is validated', () => {
    expect(new ChatConfig({}).historyJoinTimeoutMs).toBe(3000);
    expect(new ChatConfig({ CHAT_HISTORY_JOIN_TIMEOUT_MS: '250' }).historyJoinTimeoutMs).toBe(250);
    for (const bad of ['0', '-5', 'soon', '1.5'])
      expect(() => new ChatConfig({ CHAT_HISTORY_JOIN_TIMEOUT_MS: bad })).toThrow(
        /CHAT_HISTORY_JOIN_TIMEOUT_MS/,
      );
  });
});
