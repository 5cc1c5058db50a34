import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfiguration } from '../../config/configuration';
import { parseClusterUrl, RedisNames } from './redis-topology';

describe('redis+cluster:// URLs', () => {
  it('reads the seed nodes, and the user and password once unescaped', () => {
    expect(parseClusterUrl('redis+cluster://10.0.0.1:7000,redis-b.internal:7001/')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
      ],
      username: undefined,
      password: undefined,
    });
    expect(parseClusterUrl('redis+cluster://live:p%40ss@[::1]:7000')).toMatchObject({
      nodes: [{ host: '::1', port: 7000 }],
      username: 'live',
      password: 'p@ss',
    });
  });

  it.each([
    ['redis+cluster://', 'names no node'],
    ['redis+cluster://h1:7000,', 'is not host:port'],
    ['redis+cluster://h1', 'is not host:port'],
    ['redis+cluster://h1:0', 'bad port'],
    ['redis+cluster://h1:70000', 'bad port'],
    ['redis+cluster://h1:7000/0', 'is not host:port'],
    ['redis+cluster://h 1:7000', 'bad host'],
    ['redis+cluster://h1:7000?tls=1', 'is not host:port'],
  ])('refuses %s', (url, reason) => {
    expect(parseClusterUrl(url)).toEqual(expect.stringContaining(reason));
  });

  it('is refused at start-up by name, without printing the password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-config-'));
    try {
      for (const url of [
        'redis+cluster://u:secret-pass@h1:7000,h2',
        'redis+cluster://',
        'rediscluster://h:1',
      ]) {
        const lines = checkConfiguration({ DATA_DIR: dir, REDIS_URL: url });
        expect(lines.filter((l) => l.startsWith('Invalid configuration: REDIS_URL='))).toHaveLength(1);
        expect(lines.join('\n')).not.toContain('secret-pass');
      }
      expect(checkConfiguration({ DATA_DIR: dir, REDIS_URL: 'redis+cluster://a:7000,b:7001' })).toEqual([]);
      expect(checkConfiguration({ DATA_DIR: dir, REDIS_URL: 'redis://127.0.0.1:6379/2' })).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RedisNames', () => {
  it('keeps the single-Redis names as they always were', () => {
    const names = new RedisNames('live', false);
    expect(names.roomChannel('lobby')).toBe('live:chat:lobby');
    expect(names.roomOf('live:chat:lobby')).toBe('lobby');
    expect(names.presenceKey('lobby')).toBe('live:presence:lobby');
    expect(names.flushRequests).toBe('live:chat-control');
    expect(names.flushReplies('o1')).toBe('live:chat-control:o1');
    expect(names.moderation).toBe('live:chat-moderation');
    expect(names.sessionsEnded).toBe('live:chat-control:sessions');
  });

  it('on a cluster, tags a room by its name and everything global by one fixed tag', () => {
    const names = new RedisNames('live', true);
    expect(names.roomChannel('lobby')).toBe('live:chat:{lobby}');
    expect(names.roomOf('live:chat:{lobby}')).toBe('lobby');
    expect(names.roomOf('live:chat:lobby')).toBeNull();
    expect(names.presenceKey('lobby')).toBe('live:presence:{lobby}');
    for (const global of [
      names.flushRequests,
      names.flushReplies('o1'),
      names.moderation,
      names.sessionsEnded,
    ])
      expect(global.startsWith('{live:control}:')).toBe(true);
  });
});
