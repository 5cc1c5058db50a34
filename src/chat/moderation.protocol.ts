/**
 * The `live.v1` frames of room rules and moderation: what a moderator's socket may send, and what
 * the server tells a room's sockets (a deleted message, a mute, changed rules).
 */
import { MAX_REASON_CHARS, mutedText, RoomAccess } from './room-rules';

/** A mute or ban lasts at most this long (a year and a day); without a duration it lasts until lifted. */
export const MAX_DURATION_SECONDS = 366 * 86_400;
const INT4_MAX = 2_147_483_647;

export type ModerationCommand =
  | { action: 'delete'; id: number; reason: string }
  | { action: 'mute' | 'ban'; user: number; duration: number | null; reason: string }
  | { action: 'unmute' | 'unban' | 'kick'; user: number; reason: string };

export type ModerationVerb = ModerationCommand['action'];
export const MODERATION_VERBS: readonly ModerationVerb[] = [
  'delete',
  'mute',
  'unmute',
  'kick',
  'ban',
  'unban',
];

/** Frames a room's live.v1 sockets get besides messages and presence. */
export type ModerationFrame =
  | { type: 'deleted'; room: string; id: number }
  | { type: 'muted'; room: string; until: string | null; reason: string; message: string }
  | { type: 'unmuted'; room: string }
  /** The room's rules changed: what they mean for this socket now. */
  | ({ type: 'room'; room: string } & RoomDetails)
  /** A moderator's command was carried out (to the socket that sent it). */
  | {
      type: 'moderated';
      room: string;
      action: ModerationVerb;
      user?: number;
      id?: number;
      until?: string | null;
    };

/** What a socket is told of its room's rules: in `welcome` (only what differs from an open room) and in `room`. */
export interface RoomDetails {
  topic?: string;
  moderator?: true;
  /** Why this socket may not post (its posts get `forbidden`). */
  readOnly?: string;
}

/** The welcome's additions: none for a room without rules and a socket that does not moderate. */
export function roomDetails(access: RoomAccess): RoomDetails {
  const details: RoomDetails = {};
  if (access.topic) details.topic = access.topic;
  if (access.moderator) details.moderator = true;
  if (access.postRefusal !== null) details.readOnly = access.postRefusal;
  return details;
}

export function untilIso(until: number): string | null {
  return Number.isFinite(until) ? new Date(until).toISOString() : null;
}

export function mutedFrame(
  room: string,
  access: Pick<RoomAccess, 'mutedUntil' | 'muteReason'>,
): ModerationFrame {
  return {
    type: 'muted',
    room,
    until: untilIso(access.mutedUntil),
    reason: access.muteReason,
    message: mutedText(access),
  };
}

const isDuration = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_DURATION_SECONDS;
const isUserId = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= INT4_MAX;

/**
 * A moderation frame from a live.v1 socket (`{"type":"mute","user":5,"duration":600,"reason":"…"}`):
 * the command, why it is refused (a bad_request), or null when `type` is no moderation verb.
 */
export function parseModerationFrame(frame: Record<string, unknown>): ModerationCommand | string | null {
  const action = frame.type;
  if (typeof action !== 'string' || !(MODERATION_VERBS as readonly string[]).includes(action)) return null;
  const reason = frame.reason ?? '';
  if (typeof reason !== 'string' || reason.length > MAX_REASON_CHARS || reason.includes('\u0000'))
    return `reason must be a string of at most ${MAX_REASON_CHARS} characters, without NUL`;
  if (action === 'delete') {
    const id = frame.id;
    if (!Number.isSafeInteger(id) || (id as number) < 0) return 'delete needs "id": a message id';
    return { action, id: id as number, reason };
  }
  const user = frame.user;
  if (!isUserId(user)) return `${action} needs "user": a user id (1 to ${INT4_MAX})`;
  if (action === 'mute' || action === 'ban') {
    const duration = frame.duration ?? null;
    if (duration !== null && !isDuration(duration))
      return `duration must be whole seconds from 1 to ${MAX_DURATION_SECONDS} (none: until lifted)`;
    return { action, user, duration, reason };
  }
  return { action: action as 'unmute' | 'unban' | 'kick', user, reason };
}
