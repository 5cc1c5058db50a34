import { Logger } from '@nestjs/common';
import type { SessionsEnded } from '../../auth/session-events';
import { parseSessionsEnded, RedisSessionEndBus } from './redis-session-end-bus';
import { FakeRedis } from './redis.fakes';

const settled = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const KEY = 'k'.repeat(32);
const ORIGIN = '0b7c6c1e-8d0f-4a4e-9c1a-3f2e1d0c9b8a';

describe('RedisSessionEndBus', () => {
  let redis: FakeRedis;
  let buses: RedisSessionEndBus[];
  let warn: jest.SpyInstance;

  const instance = () => {
    const bus = new RedisSessionEndBus('redis://fake', 'unit', redis.open);
    const received: SessionsEnded[] = [];
    bus.setHandler((e) => received.push(e));
    buses.push(bus);
    return { bus, received };
  };

  beforeEach(() => {
    redis = new FakeRedis();
    buses = [];
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
  });
  afterEach(async () => {
    await Promise.all(buses.map((b) => b.close()));
    jest.restoreAllMocks();
  });

  it('an end published on one instance reaches every other instance once, never its own', async () => {
    const a = instance();
    const b = instance();
    const c = instance();
    await settled();
    a.bus.publish({ sessionKeys: [KEY], userIds: [3] });
    await settled();
    expect(redis.published.map((p) => p.channel)).toEqual(['unit:chat-control:sessions']);
    expect(a.received).toEqual([]);
    expect(b.received).toEqual([{ sessionKeys: [KEY], userIds: [3] }]);
    expect(c.received).toEqual([{ sessionKeys: [KEY], userIds: [3] }]);
  });

  it('Redis down: nothing is published (the re-check covers it) and the loss is logged', async () => {
    const a = instance();
    await settled();
    redis.links.filter((l) => l.role === 'sessions publisher').forEach((l) => (l.link.up = false));
    a.bus.publish({ userIds: [1] });
    expect(redis.published).toEqual([]);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ event: 'session_end_not_relayed' }));
  });

  it('a forged or malformed envelope closes nothing', async () => {
    const a = instance();
    await settled();
    for (const payload of [
      'not json',
      JSON.stringify({ type: 'sessions.ended', from: ORIGIN, keys: ['short'], users: [] }),
      JSON.stringify({ type: 'sessions.ended', from: ORIGIN, keys: [KEY], users: [0] }),
      JSON.stringify({ type: 'sessions.ended', from: 'me', keys: [KEY], users: [] }),
      JSON.stringify({ type: 'history.flush', from: ORIGIN, keys: [KEY], users: [] }),
    ])
      redis.publish('unit:chat-control:sessions', payload);
    await settled();
    expect(a.received).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(5);
  });

  it('parseSessionsEnded takes exactly the envelope', () => {
    expect(
      parseSessionsEnded(JSON.stringify({ type: 'sessions.ended', from: ORIGIN, keys: [KEY], users: [5] })),
    ).toEqual({
      type: 'sessions.ended',
      from: ORIGIN,
      keys: [KEY],
      users: [5],
    });
    expect(
      parseSessionsEnded(JSON.stringify({ type: 'sessions.ended', from: ORIGIN, keys: KEY, users: [] })),
    ).toBeNull();
    expect(
      parseSessionsEnded(
        JSON.stringify({ type: 'sessions.ended', from: ORIGIN, keys: [], users: [2 ** 31] }),
      ),
    ).toBeNull();
  });

  it('parseSessionsEnded carries token keys (token:<id>) and refuses lookalikes', () => {
    const envelope = (keys: unknown[]) =>
      parseSessionsEnded(JSON.stringify({ type: 'sessions.ended', from: ORIGIN, keys, users: [] }));
    expect(envelope(['token:42', KEY])?.keys).toEqual(['token:42', KEY]);
    for (const bad of ['token:', 'token:-1', 'token:1e3', 'token:42 ', `token:${'9'.repeat(16)}`, 'tokens:1'])
      expect(envelope([bad])).toBeNull();
  });
});
