/**
 * The flush barrier's control envelopes (see RedisChannelLayer.flushBarrier). They travel on their
 * own channels, never on a room's, so they never reach a socket nor the history.
 */

/** "Write your unsaved history now, then tell `from`." */
export interface FlushRequest {
  type: 'history.flush';
  token: string;
  from: string;
}

/** The answer to one request: `ok` false when the write failed (the asker then waits out its deadline). */
export interface FlushAck {
  type: 'history.flushed';
  token: string;
  from: string;
  ok: boolean;
}

export type FlushControl = FlushRequest | FlushAck;

/** Tokens and instance origins are randomUUID()s; `from` names a reply channel, so nothing else is taken. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A real envelope is about 120 bytes; anything much longer is not one (and is not parsed). */
const MAX_PAYLOAD = 512;

/**
 * An envelope as received from Redis, or null when it is not exactly one of the two shapes: it
 * arrives from outside, so a malformed or forged one is refused here rather than trusted later.
 */
export function parseFlushControl(payload: string): FlushControl | null {
  if (payload.length > MAX_PAYLOAD) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, token, from, ok } = value as Record<string, unknown>;
  if (typeof token !== 'string' || !UUID.test(token)) return null;
  if (typeof from !== 'string' || !UUID.test(from)) return null;
  if (type === 'history.flush') return { type, token, from };
  if (type === 'history.flushed' && typeof ok === 'boolean') return { type, token, from, ok };
  return null;
}
