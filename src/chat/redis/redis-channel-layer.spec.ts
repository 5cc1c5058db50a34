import { Logger } from '@nestjs/common';
import { GroupEvent } from '../channel-layer';
import { RedisChannelLayer } from './redis-channel-layer';
import { FakeRedis } from './redis.fakes';

const PREFIX = 'unit';
const CONTROL = `${PREFIX}:chat-control`;
const settle = () => new Promise((r) => setImmediate(r));
const settled = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await settle();
};

/** Several instances' RedisChannelLayers on one in-process Redis; each records what it was asked and given. */
describe('RedisChannelLayer', () => {
  let redis: FakeRedis;
  let layers: RedisChannelLayer[];
  let debug: jest.SpyInstance;
  let warn: jest.SpyInstance;

  const instance = (flush: () => Promise<boolean> = async () => true) => {
    const layer = new RedisChannelLayer('redis://fake', PREFIX, redis.open);
    const received: [string, GroupEvent][] = [];
    const flushes = jest.fn(flush);
    layer.setListener((group, event) => received.push([group, event]));
    layer.setFlushHandler(flushes);
    layers.push(layer);
    return { layer, received, flushes };
  };

  beforeEach(() => {
    redis = new FakeRedis();
    layers = [];
    debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
  });
  afterEach(async () => {
    await Promise.all(layers.map((l) => l.close()));
    jest.restoreAllMocks();
  });

  it('a room message reaches each other instance once, and its sender only locally', async () => {
    const a = instance();
    const b = instance();
    await settle();
    await Promise.all([a.layer.groupAdd('lobby'), b.layer.groupAdd('lobby')]);
    const event: GroupEvent = { kind: 'presence', room: 'lobby' };
    a.layer.groupSend('lobby', event);
    await settled();
    expect(a.received).toEqual([['lobby', event]]);
    expect(b.received).toEqual([['lobby', event]]);
  });

  it('numbers the messages of each instance per room; a receiver counts the numbers it never got and logs them', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const a = instance();
      const b = instance();
      await settle();
      await Promise.all([a.layer.groupAdd('lobby'), b.layer.groupAdd('lobby')]);
      const message = (n: number): GroupEvent => ({
        kind: 'message',
        message: { id: n, room: 'lobby', user: null, name: 'x', text: `m${n}`, ts: '' },
      });
      a.layer.groupSend('lobby', message(1));
      await settled();
      const publisher = redis.links.filter((l) => l.role === 'publisher')[0].link;
      publisher.up = false; // two messages not relayed: reported by a, missed by b
      a.layer.groupSend('lobby', message(2));
      a.layer.groupSend('lobby', message(3));
      publisher.up = true;
      a.layer.groupSend('lobby', message(4));
      await settled();
      expect(b.received.map(([, e]) => (e.kind === 'message' ? e.message.id : 0))).toEqual([1, 4]);
      jest.advanceTimersByTime(1000);
      expect(warn).toHaveBeenCalledWith({
        event: 'redis_messages_missed',
        count: 2,
        rooms: 1,
        lateDropped: 0,
      });
      // Leaving the room forgets the numbers: what was sent meanwhile is not missed.
      await b.layer.groupDiscard('lobby');
      a.layer.groupSend('lobby', message(5));
      await b.layer.groupAdd('lobby');
      a.layer.groupSend('lobby', message(6));
      await settled();
      jest.advanceTimersByTime(1000);
      expect(
        warn.mock.calls.filter(([f]) => (f as { event?: string }).event === 'redis_messages_missed'),
      ).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('never delivers a message after a later one of the same instance: it is dropped, and was counted missed by its gap', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const b = instance();
      await settle();
      await b.layer.groupAdd('lobby');
      // Another instance's publishes as a Redis Cluster failover can reorder them: 1, 3, then 2
      // (redirected by MOVED and re-sent after 3 went straight to the new master), then 4.
      const envelope = (n: number) =>
        JSON.stringify({
          o: 'other-instance',
          e: {
            kind: 'message',
            message: { id: n, room: 'lobby', user: null, name: 'x', text: `m${n}`, ts: '' },
          },
          s: n,
        });
      for (const n of [1, 3, 2, 4]) redis.publish(`${PREFIX}:chat:lobby`, envelope(n));
      await settled();
      expect(b.received.map(([, e]) => (e.kind === 'message' ? e.message.id : 0))).toEqual([1, 3, 4]);
      jest.advanceTimersByTime(1000);
      expect(warn).toHaveBeenCalledWith({
        event: 'redis_messages_missed',
        count: 1,
        rooms: 1,
        lateDropped: 1,
      });
    } finally {
      jest.useRealTimers();
    }
  });

  it('flush barrier: every other instance writes, then acknowledges; the asker does not flush', async () => {
    const a = instance();
    const b = instance();
    const c = instance();
    await settle();
    const started = Date.now();
    const result = await c.layer.flushBarrier('lobby', 5000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result).toEqual({ expected: 2, acks: 2, failed: 0, complete: true });
    expect(a.flushes).toHaveBeenCalledTimes(1);
    expect(b.flushes).toHaveBeenCalledTimes(1);
    expect(c.flushes).not.toHaveBeenCalled();
    expect(debug).toHaveBeenCalledWith(
      expect.objectContaining({ event: 'history_barrier', room: 'lobby', acks: 2, expected: 2 }),
    );
    // Nothing of it reached a room's listener, nor was published on a room's channel.
    expect([a, b, c].flatMap((i) => i.received)).toEqual([]);
    expect(redis.published.every((p) => p.channel.startsWith(CONTROL))).toBe(true);
  });

  it('an instance that never answers holds the barrier only until its deadline', async () => {
    const a = instance();
    const b = instance();
    redis.listener(CONTROL); // hears the request, never answers (a previous version of live)
    await settle();
    const started = Date.now();
    const result = await b.layer.flushBarrier('lobby', 150);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(145);
    expect(waited).toBeLessThan(1000);
    expect(a.flushes).toHaveBeenCalledTimes(1);
    expect(result).toEqual({ expected: 2, acks: 1, failed: 0, complete: false });
    expect(debug).toHaveBeenCalledWith(
      expect.objectContaining({ event: 'history_barrier', room: 'lobby', acks: 1, expected: 2 }),
    );
  });

  it('a failed write (false or thrown) is acknowledged as such, and the asker waits out its deadline', async () => {
    instance(async () => false);
    instance(async () => {
      throw new Error('database down');
    });
    const asker = instance();
    await settle();
    const started = Date.now();
    const result = await asker.layer.flushBarrier('lobby', 100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(result).toEqual({ expected: 2, acks: 0, failed: 2, complete: false });
  });

  it('with Redis down nobody can be asked: the deadline, no error', async () => {
    const a = instance();
    const b = instance();
    await settle();
    redis.links.filter((l) => l.role === 'publisher').forEach((l) => (l.link.up = false));
    const result = await b.layer.flushBarrier('lobby', 50);
    expect(result).toEqual({ expected: null, acks: 0, failed: 0, complete: false });
    expect(a.flushes).not.toHaveBeenCalled();
  });

  it('alone in the cluster: its own request is all it hears, no wait', async () => {
    const only = instance();
    await settle();
    const started = Date.now();
    expect(await only.layer.flushBarrier('lobby', 5000)).toEqual({
      expected: 0,
      acks: 0,
      failed: 0,
      complete: true,
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('malformed, forged or misplaced control envelopes are ignored, with a warning', async () => {
    let written!: (ok: boolean) => void;
    const a = instance(() => new Promise<boolean>((resolve) => (written = resolve)));
    const b = instance();
    await settle();
    await Promise.all([a.layer.groupAdd('lobby'), b.layer.groupAdd('lobby')]);
    const other = '0b9f3c1e-5d2a-4c4b-9e8f-1a2b3c4d5e6f';
    const bReplies = `${CONTROL}:${b.layer.origin}`;
    let done = false;
    const barrier = b.layer.flushBarrier('lobby', 2000).finally(() => (done = true));
    await settled(2);
    const token = JSON.parse(redis.published[0].payload).token as string;
    // Forged answers: a wrong token, an answer on the request channel, garbage on both channels.
    redis.publish(bReplies, JSON.stringify({ type: 'history.flushed', token: other, from: other, ok: true }));
    redis.publish(CONTROL, JSON.stringify({ type: 'history.flushed', token, from: other, ok: true }));
    redis.publish(CONTROL, 'not json');
    redis.publish(bReplies, JSON.stringify({ type: 'history.flush', token, from: 'x' }));
    // A request that names a room's channel for the answer: refused, so nothing is published there.
    redis.publish(CONTROL, JSON.stringify({ type: 'history.flush', token: other, from: 'unit:chat:lobby' }));
    // A control envelope on a room's channel is not a room event.
    redis.publish(`${PREFIX}:chat:lobby`, JSON.stringify({ type: 'history.flush', token, from: other }));
    redis.publish(`${PREFIX}:chat:lobby`, JSON.stringify({ o: other }));
    await settled();
    expect(done).toBe(false); // none of that counted as an answer
    written(true);
    const result = await barrier;
    expect(result).toEqual({ expected: 1, acks: 1, failed: 0, complete: true });
    await settled();
    expect(a.flushes).toHaveBeenCalledTimes(1);
    expect([a, b].flatMap((i) => i.received)).toEqual([]);
    expect(redis.published.filter((p) => p.channel === `${PREFIX}:chat:lobby`)).toHaveLength(2);
    const warned = warn.mock.calls.map(([fields]) => (fields as { event: string }).event);
    expect(warned).toEqual(expect.arrayContaining(['redis_bad_control', 'redis_bad_payload']));
  });
});
