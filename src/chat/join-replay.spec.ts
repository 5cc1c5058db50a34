import { Logger } from '@nestjs/common';
import WebSocket from 'ws';
import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatJoin } from './chat-client';
import { ChatMessage } from './chat.protocol';
import { fakeClient, RecordingLog } from './chat.fakes';
import { JoinReplay, JoinReplayConfig } from './join-replay';
import { RedisChannelLayer } from './redis/redis-channel-layer';
import { FakeRedis } from './redis/redis.fakes';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';

/** A history read the test answers when it wants to. */
interface Read {
  args: unknown[];
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const ROOM = 'resume';
const msg = (id: number): ChatMessage => ({
  id,
  room: ROOM,
  user: null,
  name: 'S',
  text: `m${id}`,
  ts: 'now',
});
const settle = () => new Promise((r) => setImmediate(r));

describe('JoinReplay', () => {
  let layer: InMemoryChannelLayer;
  let hub: RoomHub;
  let log: RecordingLog;
  let reads: Read[];
  let config: JoinReplayConfig;
  let replay: JoinReplay;

  const deferred = (args: unknown[]) =>
    new Promise((resolve, reject) => reads.push({ args, resolve, reject }));
  const replayWith = (cfg: JoinReplayConfig) =>
    new JoinReplay(
      cfg,
      {
        recent: (...args: unknown[]) => deferred(['recent', ...args]) as Promise<ChatMessage[]>,
        after: (...args: unknown[]) =>
          deferred(['after', ...args]) as Promise<{ messages: ChatMessage[]; truncated: boolean }>,
      },
      hub,
      log,
    );
  const joinWith = (v1: boolean, since: number | null, history: number | null = null) => {
    const client = fakeClient(ROOM, v1);
    const join: ChatJoin = { room: ROOM, name: client.name, userId: null, v1, history, since };
    hub.join(client);
    replay.start(client, join);
    return client;
  };
  /** Ids a live.v1 client received, history and live messages alike, in order. */
  const idsSeen = (ws: { frames(): { type: string; id?: number; messages?: { id: number }[] }[] }) =>
    ws.frames().flatMap((f) => (f.type === 'history' ? f.messages!.map((m) => m.id) : f.id ? [f.id] : []));

  beforeEach(() => {
    layer = new InMemoryChannelLayer();
    log = new RecordingLog();
    hub = new RoomHub(layer, new SlowConsumerGuard(1 << 20, log), new MetricsService(), log);
    reads = [];
    config = {
      historyDefault: 50,
      historyMax: 500,
      historyJoinTimeoutMs: 1000,
      historyFlushMs: 25,
    };
    replay = replayWith(config);
  });

  it('since: what was missed, then what arrived while it loaded, without a gap or a duplicate', async () => {
    const client = joinWith(true, 10);
    await settle();
    expect(reads.map((r) => r.args)).toEqual([['after', ROOM, 10, 500]]);
    // Live while the read runs: 12 made it into the read too, 13 and 14 did not.
    hub.broadcast(ROOM, msg(12));
    hub.broadcast(ROOM, msg(13));
    hub.broadcast(ROOM, msg(14));
    expect(client.ws.sent).toEqual([]); // held: nothing may overtake the history
    reads[0].resolve({ messages: [msg(11), msg(12)], truncated: false });
    await settle();
    hub.broadcast(ROOM, msg(15));
    expect(client.ws.frames().map((f) => f.type)).toEqual(['history', 'message', 'message', 'message']);
    expect(idsSeen(client.ws)).toEqual([11, 12, 13, 14, 15]);
    expect(client.ws.frames()[0]).not.toHaveProperty('truncated');
  });

  it('since on a plain socket: the missed lines, then the held ones; truncated is passed on to live.v1', async () => {
    const plain = joinWith(false, 0);
    const v1 = joinWith(true, 0);
    await settle();
    hub.broadcast(ROOM, msg(3));
    reads[0].resolve({ messages: [msg(1), msg(2)], truncated: false });
    reads[1].resolve({ messages: [msg(1), msg(2)], truncated: true });
    await settle();
    expect(plain.ws.texts()).toEqual(['<S> m1', '<S> m2', '<S> m3']);
    expect(v1.ws.frames()[0]).toMatchObject({ type: 'history', truncated: true });
    expect(idsSeen(v1.ws)).toEqual([1, 2, 3]);
  });

  it('an empty read releases every held message', async () => {
    const client = joinWith(true, 50);
    await settle();
    hub.broadcast(ROOM, msg(51));
    reads[0].resolve({ messages: [], truncated: false });
    await settle();
    expect(idsSeen(client.ws)).toEqual([51]);
  });

  it('history=<n>: the last n, read at once; live.v1 gets CHAT_HISTORY_DEFAULT unless it asks, plain nothing', () => {
    joinWith(true, null);
    joinWith(false, null, 5);
    const plainDefault = joinWith(false, null);
    const none = joinWith(true, null, 0);
    expect(reads.map((r) => r.args)).toEqual([
      ['recent', ROOM, 50],
      ['recent', ROOM, 5],
    ]);
    for (const c of [plainDefault, none]) expect(c.ready).toBe(true);
  });

  it('a since read waits until this instance receives the room', async () => {
    let subscribed!: () => void;
    jest.spyOn(layer, 'groupAdd').mockReturnValueOnce(new Promise<void>((r) => (subscribed = r)));
    joinWith(true, 10);
    await settle();
    expect(reads).toHaveLength(0);
    subscribed();
    await settle();
    expect(reads).toHaveLength(1);
  });

  it('on a single instance (in-memory layer) a since read waits for nobody', async () => {
    replay = replayWith({ ...config, historyFlushMs: 60_000 });
    joinWith(true, 10);
    await settle();
    expect(reads).toHaveLength(1);
  });

  it('a failed read: live.v1 gets history_unavailable, then the held messages', async () => {
    const v1 = joinWith(true, 10);
    await settle();
    hub.broadcast(ROOM, msg(11));
    reads[0].reject(new Error('connection refused'));
    await settle();
    expect(v1.ws.frames()).toEqual([
      { type: 'error', code: 'history_unavailable', message: 'History could not be loaded' },
      { type: 'message', ...msg(11) },
    ]);
    expect(log.entries).toEqual([
      { level: 'error', fields: { event: 'history_load_failed', room: ROOM, error: 'connection refused' } },
    ]);
  });

  it('release() at shutdown sends the held messages; the history that comes later is not sent', async () => {
    const client = joinWith(true, 10);
    await settle();
    hub.broadcast(ROOM, msg(11));
    replay.release(client);
    expect(idsSeen(client.ws)).toEqual([11]);
    reads[0].resolve({ messages: [msg(11)], truncated: false });
    await settle();
    expect(client.ws.sent).toHaveLength(1);
  });

  it('a socket closed while its history loaded gets nothing', async () => {
    const client = joinWith(true, 10);
    await settle();
    hub.broadcast(ROOM, msg(11));
    client.ws.readyState = WebSocket.CLOSED;
    reads[0].resolve({ messages: [msg(11)], truncated: false });
    await settle();
    expect(client.ws.sent).toEqual([]);
  });
});

/**
 * Two instances on one (in-process) Redis. A's sender posted and left: its messages were published
 * before B received the room, so B's socket gets them only from the database, and A still holds
 * them in its write batch. B's `since` read must come after A wrote them: asked, not waited for.
 */
describe('JoinReplay in a cluster: the flush barrier', () => {
  let redis: FakeRedis;
  let a: RedisChannelLayer;
  let b: RedisChannelLayer;
  let hubB: RoomHub;
  /** The database both instances write to and read from. */
  let saved: ChatMessage[];
  /** A's write batch, not yet in the database. */
  let batchA: ChatMessage[];
  let steps: string[];

  const postOnA = (id: number) => {
    const message = msg(id);
    batchA.push(message);
    a.groupSend(ROOM, { kind: 'message', message });
  };
  const replayOnB = (historyFlushMs: number) =>
    new JoinReplay(
      {
        historyDefault: 50,
        historyMax: 500,
        historyJoinTimeoutMs: 1000,
        historyFlushMs,
      },
      {
        recent: async () => [],
        after: async (_room: string, since: number) => {
          steps.push(`B reads ${saved.length}`);
          return { messages: saved.filter((m) => m.id > since), truncated: false };
        },
      },
      hubB,
      new RecordingLog(),
    );
  const joinOnB = (replay: JoinReplay, since: number) => {
    const client = fakeClient(ROOM, true);
    hubB.join(client);
    replay.start(client, { room: ROOM, name: client.name, userId: null, v1: true, history: null, since });
    return client;
  };
  const untilReady = async (client: { ready: boolean }) => {
    for (let i = 0; i < 1000 && !client.ready; i++) await new Promise((r) => setTimeout(r, 5));
  };
  const idsSeen = (ws: { frames(): { type: string; id?: number; messages?: { id: number }[] }[] }) =>
    ws.frames().flatMap((f) => (f.type === 'history' ? f.messages!.map((m) => m.id) : f.id ? [f.id] : []));

  beforeEach(async () => {
    jest.spyOn(Logger.prototype, 'debug').mockImplementation();
    redis = new FakeRedis();
    saved = [];
    batchA = [];
    steps = [];
    a = new RedisChannelLayer('redis://fake', 'unit', redis.open);
    b = new RedisChannelLayer('redis://fake', 'unit', redis.open);
    a.setFlushHandler(async () => {
      steps.push('A writes');
      await new Promise((r) => setTimeout(r, 20)); // the INSERT
      saved.push(...batchA.splice(0));
      return true;
    });
    const log = new RecordingLog();
    hubB = new RoomHub(b, new SlowConsumerGuard(1 << 20, log), new MetricsService(), log);
    b.setListener((room, event) => {
      if (event.kind === 'message') hubB.broadcast(room, event.message);
    });
    await settle(); // both connected, the control channels subscribed
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
    jest.restoreAllMocks();
  });

  it("B's replay waits for A's write, then reads A's messages: no gap, no duplicate, no timer", async () => {
    postOnA(1);
    postOnA(2);
    postOnA(3);
    // A flush interval of a minute: the old fixed wait would have been two minutes.
    const started = Date.now();
    const client = joinOnB(replayOnB(60_000), 0);
    await hubB.subscribed(ROOM);
    postOnA(4); // after B received the room: it comes live (held), and is in A's batch as well
    await untilReady(client);
    postOnA(5);
    await new Promise((r) => setTimeout(r, 20));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(steps).toEqual(['A writes', 'B reads 4']);
    expect(client.ws.frames()[0]).toMatchObject({ type: 'history' });
    expect(idsSeen(client.ws)).toEqual([1, 2, 3, 4, 5]);
  });

  it('an instance that never answers delays the read until the deadline only (2 flush intervals + 150 ms)', async () => {
    redis.listener('unit:chat-control'); // hears the request, never answers
    postOnA(1);
    postOnA(2);
    const started = Date.now();
    const client = joinOnB(replayOnB(20), 0);
    await untilReady(client);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(185);
    expect(waited).toBeLessThan(1000);
    expect(steps).toEqual(['A writes', 'B reads 2']);
    expect(idsSeen(client.ws)).toEqual([1, 2]);
  });
});
