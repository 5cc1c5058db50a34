import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { GroupEvent } from '../src/chat/channel-layer';
import { ChatMessage } from '../src/chat/chat.protocol';
import { RedisChannelLayer } from '../src/chat/redis/redis-channel-layer';
import type { RedisLink } from '../src/chat/redis/redis-connection';
import { eventually } from './support/ws';

const enabled = process.env.LIVE_TEST_REDIS === '1';
const describeRedis = enabled ? describe : describe.skip;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const message = (room: string, n: number): GroupEvent => {
  const m: ChatMessage = {
    id: n,
    room,
    user: null,
    name: 'Sender',
    text: `m${n}`,
    ts: new Date().toISOString(),
  };
  return { kind: 'message', message: m };
};

/**
 * The channel layer's publishes on one real Redis: a turn's publishes leave in one write (the
 * publisher's socket is held for the turn, not autopipelined), and arrive at another instance all,
 * once, in order.
 */
describeRedis('Redis channel layer: one write per turn of publishes', () => {
  const prefix = `batching-${randomUUID().slice(0, 8)}`;
  let origin: RedisChannelLayer;
  let receiver: RedisChannelLayer;
  const received: string[] = [];

  beforeAll(async () => {
    for (const level of ['log', 'warn', 'error'] as const)
      jest.spyOn(Logger.prototype, level).mockImplementation();
    origin = new RedisChannelLayer(REDIS_URL, prefix);
    receiver = new RedisChannelLayer(REDIS_URL, prefix);
    receiver.setListener((_group, event) => {
      if (event.kind === 'message') received.push(event.message.text);
    });
    await eventually(() => origin.state() === 'up' && receiver.state() === 'up', 5000);
    await receiver.groupAdd('batch-room');
  });
  afterAll(async () => {
    await Promise.all([origin?.close(), receiver?.close()]);
    jest.restoreAllMocks();
  });

  it('200 publishes in one turn: at most two socket writes, all 200 received once and in order', async () => {
    const stream = (origin as unknown as { publisher: RedisLink }).publisher.redis.stream as Writable & {
      _write: (...args: unknown[]) => void;
      _writev?: (...args: unknown[]) => void;
    };
    const write = jest.spyOn(stream, '_write');
    const writev = stream._writev ? jest.spyOn(stream as Required<typeof stream>, '_writev') : null;
    for (let n = 1; n <= 200; n++) origin.groupSend('batch-room', message('batch-room', n));
    expect(stream.writableCorked).toBe(1); // held for the turn, not written one by one
    await new Promise((r) => setImmediate(r));
    const writes = write.mock.calls.length + (writev?.mock.calls.length ?? 0);
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(2);
    expect(stream.writableCorked).toBe(0);
    await eventually(() => received.length >= 200, 5000);
    expect(received).toEqual(Array.from({ length: 200 }, (_, i) => `m${i + 1}`));
  });

  it('a publish in a later turn leaves on its own, at the end of its turn', async () => {
    received.length = 0;
    origin.groupSend('batch-room', message('batch-room', 201));
    await eventually(() => received.length === 1, 5000);
    expect(received).toEqual(['m201']);
  });
});
