import WebSocket from 'ws';
import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatJoin } from './chat-client';
import { ChatMessage } from './chat.protocol';
import { fakeClient, RecordingLog } from './chat.fakes';
import { JoinReplay, JoinReplayConfig } from './join-replay';
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
      redisUrl: undefined,
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

  it('in a cluster, a since read also gives other instances time to write their batch', async () => {
    jest.useFakeTimers();
    try {
      replay = replayWith({ ...config, redisUrl: 'redis://cluster' });
      joinWith(true, 10);
      await jest.advanceTimersByTimeAsync(2 * config.historyFlushMs + 149);
      expect(reads).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(reads).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
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
