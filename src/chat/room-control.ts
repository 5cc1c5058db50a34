/**
 * What every instance must hear when staff change a room's rules or a moderator acts: sent through
 * the ChannelLayer to all instances (the sender included), whatever rooms they hold, since any of
 * them may have the room's rules cached, its sockets, or its messages still unsaved.
 */
import { ROOM_PATTERN } from './chat.protocol';
import { MAX_REASON_CHARS } from './room-rules';

export type RoomControl =
  /** The room's rules changed (or were removed): read them again, re-decide its sockets. */
  | { type: 'rules'; room: string }
  /** A mute or ban was set (until: ms since the epoch, null for no end) or lifted. */
  | {
      type: 'sanction';
      room: string;
      user: number;
      kind: 'mute' | 'ban';
      lifted: boolean;
      until: number | null;
      reason: string;
    }
  /** Close the user's sockets in the room. */
  | { type: 'kick'; room: string; user: number; reason: string }
  /** A message was removed from the room's history. */
  | { type: 'deleted'; room: string; id: number }
  /**
   * This instance may have missed events (its Redis connection came back): forget every cached
   * rule and re-decide the sockets here. Never sent to other instances.
   */
  | { type: 'resync' };

export type RoomControlListener = (event: RoomControl) => void;

/** A real event is a few hundred bytes; anything much longer is not one (and is not parsed). */
const MAX_PAYLOAD = 4096;
const INT4_MAX = 2_147_483_647;

const isUserId = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= INT4_MAX;
const isRoom = (v: unknown): v is string => typeof v === 'string' && ROOM_PATTERN.test(v);
const isReason = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= MAX_REASON_CHARS && !v.includes('\u0000');

/**
 * An event as received from another instance, or null when it is not exactly one of the shapes
 * above: it arrived through Redis, so a malformed or forged one goes no further. `resync` is local.
 */
export function parseRoomControl(value: unknown): RoomControl | null {
  if (typeof value !== 'object' || value === null) return null;
  const e = value as Record<string, unknown>;
  if (!isRoom(e.room)) return null;
  const room = e.room;
  switch (e.type) {
    case 'rules':
      return { type: 'rules', room };
    case 'sanction': {
      const { user, kind, lifted, until, reason } = e;
      if (!isUserId(user) || (kind !== 'mute' && kind !== 'ban') || typeof lifted !== 'boolean') return null;
      if (until !== null && !Number.isSafeInteger(until)) return null;
      if (!isReason(reason)) return null;
      return { type: 'sanction', room, user, kind, lifted, until: until as number | null, reason };
    }
    case 'kick':
      return isUserId(e.user) && isReason(e.reason)
        ? { type: 'kick', room, user: e.user, reason: e.reason }
        : null;
    case 'deleted':
      return Number.isSafeInteger(e.id) && (e.id as number) >= 0
        ? { type: 'deleted', room, id: e.id as number }
        : null;
    default:
      return null;
  }
}

/** The Redis envelope: the publishing instance (which ignores its own echo) and the event. */
export function parseControlEnvelope(payload: string): { origin: string; event: RoomControl } | null {
  if (payload.length > MAX_PAYLOAD) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { o, e } = value as { o?: unknown; e?: unknown };
  if (typeof o !== 'string' || o.length > 64) return null;
  const event = parseRoomControl(e);
  return event ? { origin: o, event } : null;
}
