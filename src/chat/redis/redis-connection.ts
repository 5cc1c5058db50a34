import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** Reconnect delays: 100 ms doubling up to 5 s, forever (Redis may be down for a while). */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt - 1, 10), 5000);
}

/**
 * One ioredis connection with the habits cluster mode needs: no offline queue (a command while
 * Redis is down fails at once instead of piling up in memory), reconnect with backoff, and one log
 * line when the connection goes down and one when it comes back, however many retries in between.
 */
export function openRedis(url: string, role: string, onReady?: () => void): Redis {
  const logger = new Logger('Redis');
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    // Commands issued in one event-loop turn leave in one write (a burst of connections joining
    // presence, a burst of messages published) instead of one round trip each.
    enableAutoPipelining: role === 'publisher' || role === 'presence',
    autoResubscribe: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: reconnectDelay,
    lazyConnect: false,
  });
  let down = false;
  let everReady = false;
  const markDown = (reason: string) => {
    if (down) return;
    down = true;
    logger.error(JSON.stringify({ event: 'redis_down', role, url: redactUrl(url), error: reason }));
  };
  redis.on('error', (err: Error) => markDown(err.message));
  redis.on('close', () => {
    if (everReady) markDown('connection closed');
  });
  redis.on('ready', () => {
    if (down) logger.log(JSON.stringify({ event: 'redis_up', role, url: redactUrl(url) }));
    down = false;
    everReady = true;
    onReady?.();
  });
  return redis;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

export async function closeRedis(redis: Redis): Promise<void> {
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
