import { Logger } from '@nestjs/common';
import { RoomControl } from '../room-control';
import { RedisChannelLayer } from './redis-channel-layer';
import { FakeRedis } from './redis.fakes';

const settled = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};

/** Rule changes and moderation over Redis: every instance hears each event once, the sender at once. */
describe('RedisChannelLayer control events', () => {
  let redis: FakeRedis;
  let layers: RedisChannelLayer[];
  let warn: jest.SpyInstance;
  /** Each instance's subscriber (and publisher) onReady, to stand for a reconnect. */
  let reconnects: (() => void)[];
  let publishersReady: (() => void)[];

  const instance = () => {
    const open = (url: string, role: string, onReady: () => void) => {
      if (role === 'subscriber') reconnects.push(onReady);
      else publishersReady.push(onReady);
      return redis.open(url, role, onReady);
    };
    const layer = new RedisChannelLayer('redis://fake', 'unit', open);
    const heard: RoomControl[] = [];
    layer.setControlListener((e) => heard.push(e));
    layers.push(layer);
    return { layer, heard };
  };

  beforeEach(() => {
    redis = new FakeRedis();
    layers = [];
    reconnects = [];
    publishersReady = [];
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
  });
  afterEach(async () => {
    await Promise.all(layers.map((l) => l.close()));
    jest.restoreAllMocks();
  });

  it('reaches every instance once, whatever rooms it holds; the sender hears it at once, not its echo', async () => {
    const a = instance();
    const b = instance();
    const c = instance();
    await settled();
    const event: RoomControl = { type: 'kick', room: 'lobby', user: 5, reason: 'bye' };
    a.layer.controlSend(event);
    expect(a.heard).toEqual([event]); // synchronously
    await settled();
    expect(a.heard).toEqual([event]);
    expect(b.heard).toEqual([event]);
    expect(c.heard).toEqual([event]);
    expect(redis.published.filter((p) => p.channel === 'unit:chat-moderation')).toHaveLength(1);
  });

  it('a forged or malformed publish on the channel goes no further, and is logged', async () => {
    const a = instance();
    await settled();
    redis.publish('unit:chat-moderation', 'not json');
    redis.publish(
      'unit:chat-moderation',
      JSON.stringify({ o: 'x', e: { type: 'kick', room: 'lobby', user: 'all' } }),
    );
    redis.publish('unit:chat-moderation', JSON.stringify({ o: 'x', e: { type: 'resync' } }));
    await settled();
    expect(a.heard).toEqual([]);
    expect(
      warn.mock.calls.filter(([f]) => (f as { event: string }).event === 'redis_bad_control'),
    ).toHaveLength(3);
  });

  it('what could not be published is published once Redis is back: rules and sanctions as a re-read, deletions as they were, kicks not', async () => {
    const open = (role: string) => redis.links.filter((l) => l.role === role);
    const a = instance();
    const b = instance();
    await settled();
    const [publisherOfA] = open('publisher');
    publisherOfA.link.up = false;
    a.layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 5,
      kind: 'ban',
      lifted: false,
      until: null,
      reason: 'x',
    });
    a.layer.controlSend({ type: 'rules', room: 'r' });
    a.layer.controlSend({ type: 'deleted', room: 'r', id: 42 });
    a.layer.controlSend({ type: 'kick', room: 'r', user: 6, reason: '' });
    await settled();
    expect(b.heard).toEqual([]);
    publisherOfA.link.up = true;
    publishersReady[0]();
    await settled();
    expect(b.heard).toEqual([
      { type: 'rules', room: 'r' },
      { type: 'deleted', room: 'r', id: 42 },
    ]);
    publishersReady[0](); // nothing held twice
    await settled();
    expect(b.heard).toHaveLength(2);
  });

  it('while Redis is down the sender still hears its own event; a reconnect makes the instance resync', async () => {
    const a = instance();
    const b = instance();
    await settled();
    for (const { role, link } of redis.links) if (role === 'publisher') link.up = false;
    const event: RoomControl = { type: 'rules', room: 'lobby' };
    a.layer.controlSend(event);
    await settled();
    expect(a.heard).toEqual([event]);
    expect(b.heard).toEqual([]);
    reconnects[1](); // b's subscriber is ready again
    expect(b.heard).toEqual([{ type: 'resync' }]);
    // A resync is this instance's own business: never published.
    a.layer.controlSend({ type: 'resync' });
    expect(redis.published.some((p) => p.payload.includes('resync'))).toBe(false);
  });
});
