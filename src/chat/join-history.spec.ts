import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { MetricsService } from '../metrics/metrics.service';
import { ChannelLayer, InMemoryChannelLayer } from './channel-layer';
import { ChatConfig } from './chat.config';
import { ChatMessage } from './chat.protocol';
import { ChatJoin, ChatService } from './chat.service';
import { HistoryService } from './history.service';
import { InstanceSlot } from './instance-slot';
import { InMemoryPresence } from './presence';

/** Just enough of a `ws` socket for ChatService: records what is sent (no TCP socket behind it). */
class FakeSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  send(data: string | Buffer): void {
    if (this.readyState === WebSocket.OPEN) this.sent.push(data.toString());
  }
  close(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.readyState = WebSocket.CLOSED;
    this.emit('close', 1001);
  }
  ping(): void {}
  terminate(): void {
    this.close();
  }
  /** live.v1 frames received, presence notices left out. */
  frames(): { type: string; code?: string; text?: string; messages?: ChatMessage[] }[] {
    // Presence notices are not held for a joining socket (nor part of what is tested here).
    return this.sent.map((s) => JSON.parse(s) as { type: string }).filter((f) => f.type !== 'presence');
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A joining socket's history read stands for a database that hangs (PostgreSQL black-holed) or
 * fails: live messages must still reach it, after `history_unavailable`, without duplicates.
 */
describe('ChatService join history deadline', () => {
  let chat: ChatService;
  let reads: { room: string; resolve: (m: ChatMessage[]) => void; reject: (e: Error) => void }[];
  let history: HistoryService;

  const join = (v1: boolean, wanted: number | null): ChatJoin => ({
    room: 'hung',
    name: 'Anonymous troll',
    userId: null,
    v1,
    history: wanted,
    since: null,
  });
  const connect = (v1: boolean, wanted: number | null) => {
    const ws = new FakeSocket();
    chat.connect(ws as unknown as WebSocket, join(v1, wanted));
    return ws;
  };

  beforeEach(async () => {
    reads = [];
    history = {
      recent: (room: string) =>
        new Promise<ChatMessage[]>((resolve, reject) => reads.push({ room, resolve, reject })),
      after: () => new Promise(() => undefined),
      append: () => undefined,
    } as unknown as HistoryService;
    const slot = { acquire: async (onChange: (n: number) => void) => (onChange(1), 1) };
    chat = new ChatService(
      new ChatConfig({ CHAT_HISTORY_JOIN_TIMEOUT_MS: '150', CHAT_HISTORY_FLUSH_MS: '20' }),
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
    expect(joining.frames().map((f) => f.type)).toEqual(['welcome']);
    await sleep(150);
    const second = chat.post('hung', null, 'Speaker', 'after the deadline');
    const frames = joining.frames();
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'error', 'message', 'message']);
    expect(frames[1]).toMatchObject({ type: 'error', code: 'history_unavailable' });
    expect(frames.slice(2).map((f) => f.text)).toEqual([first.text, second.text]);
    // The read answers at last: too late, it is ignored (no history frame after live messages).
    reads[0].resolve([first]);
    await sleep(10);
    expect(joining.frames()).toHaveLength(4);
  });

  it('a read that fails: history_unavailable at once, then live messages; plain clients get the messages', async () => {
    const v1 = connect(true, null);
    const plain = connect(false, 10);
    await sleep(10);
    const held = chat.post('hung', null, 'Speaker', 'held');
    for (const r of reads) r.reject(new Error('connection refused'));
    await sleep(10);
    chat.post('hung', null, 'Speaker', 'live');
    expect(v1.frames().map((f) => f.type)).toEqual(['welcome', 'error', 'message', 'message']);
    expect(v1.frames()[1]).toMatchObject({ code: 'history_unavailable' });
    expect(plain.sent).toEqual(['Bienvenue Anonymous troll !', `<Speaker> ${held.text}`, '<Speaker> live']);
  });

  it('a read within the deadline: history, then held messages minus those it already held', async () => {
    const joining = connect(true, null);
    await sleep(10);
    const a = chat.post('hung', null, 'Speaker', 'in history too');
    const b = chat.post('hung', null, 'Speaker', 'only live');
    reads[0].resolve([a]);
    await sleep(10);
    const frames = joining.frames();
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'history', 'message']);
    expect(frames[1].messages?.map((m) => m.id)).toEqual([a.id]);
    expect(frames[2].text).toBe(b.text);
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
