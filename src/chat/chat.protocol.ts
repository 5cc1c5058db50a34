/** Wire formats of the chat: the seed's plain text protocol and the JSON `live.v1` subprotocol. */
import { ModerationCommand, ModerationFrame, parseModerationFrame, RoomDetails } from './moderation.protocol';

export const LIVE_V1 = 'live.v1';
export const ANONYMOUS_NAME = 'Anonymous troll';
/** Room names as Channels routes them: `[-\w]+` with Unicode word characters, 1 to 100. */
export const ROOM_PATTERN = /^[\p{L}\p{N}_-]{1,100}$/u;
export const CHAT_PATH = /^\/chat\/([^/]+)\/$/;

export interface ChatMessage {
  id: number;
  room: string;
  user: number | null;
  name: string;
  text: string;
  ts: string;
  /** Posted through the publish API under a bot name; absent for everything else. */
  bot?: true;
}

/** Everything the server sends, as one union; `encodeV1` and `encodePlain` are its two encodings. */
export type ServerFrame =
  | ({ type: 'welcome'; room: string; name: string; user: number | null; text: string } & RoomDetails)
  | { type: 'history'; room: string; messages: ChatMessage[]; truncated?: boolean }
  | ({ type: 'message' } & ChatMessage)
  | { type: 'presence'; room: string; members: string[]; count: number; anonymous: number }
  | { type: 'error'; code: string; message: string; until?: string | null }
  | ModerationFrame;

export function welcomeText(name: string): string {
  return `Bienvenue ${name} !`;
}

export function encodeV1(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

/** The seed protocol's broadcast line. */
export function plainMessage(message: Pick<ChatMessage, 'name' | 'text'>): string {
  return `<${message.name}> ${message.text}`;
}

export function messageFrame(message: ChatMessage): ServerFrame {
  return { type: 'message', ...message };
}

/**
 * A live.v1 client frame: `{"type":"message","text":"…"}`, or a moderator's command (see
 * moderation.protocol.ts). Returns the text or the command, or why it is refused.
 */
export function parseClientFrame(raw: string): { text: string } | { command: ModerationCommand } | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'Expected a JSON object {"type":"message","text":"…"}';
  }
  const frame = value as { type?: unknown; text?: unknown };
  if (typeof value !== 'object' || value === null) return 'Unknown frame type; expected "message"';
  if (frame.type !== 'message') {
    const command = parseModerationFrame(value as Record<string, unknown>);
    if (command === null) return 'Unknown frame type; expected "message"';
    return typeof command === 'string' ? command : { command };
  }
  if (typeof frame.text !== 'string') return 'A message needs a "text" string';
  return { text: frame.text };
}

/**
 * Why a message text is refused at the source in either protocol, or null: NUL, which PostgreSQL
 * text cannot hold (refused the same on SQLite, so both engines behave alike).
 */
export function refusedText(text: string): string | null {
  return text.includes('\u0000') ? 'Text must not contain NUL (U+0000) characters' : null;
}

/**
 * The text with each lone UTF-16 surrogate (which a live.v1 frame's JSON may carry as `\ud83d`)
 * replaced by U+FFFD, as encoding it to UTF-8 does: what sockets receive and what either database
 * keeps then agree (SQLite kept such a surrogate as three U+FFFD). `String.prototype.toWellFormed`
 * is Node.js 20's; the ES2022 typings the project compiles against do not declare it.
 */
export function wellFormed(text: string): string {
  const s = text as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return s.isWellFormed() ? text : s.toWellFormed();
}

/** Close codes with their reasons (RFC 6455 §7.4.1 plus the IANA registry). */
export const CLOSE = {
  goingAway: { code: 1001, reason: 'server shutting down' },
  binary: { code: 1003, reason: 'binary frames are not accepted; send text' },
  flood: { code: 1008, reason: 'rate limit exceeded' },
  tooBig: { code: 1009, reason: 'message too big' },
  slowConsumer: { code: 1013, reason: 'slow consumer: too much unsent data' },
  badUtf8: { code: 1007, reason: 'invalid UTF-8' },
  /** The session the socket was opened with ended: logout, expiry, new password, deactivation… */
  sessionEnded: { code: 4001, reason: 'session ended' },
  /** The database could not confirm the session for CHAT_SESSION_FAIL_OPEN_MS: reconnect later. */
  sessionUnverified: { code: 4002, reason: 'session could not be checked' },
  /** Moderation (4010-4012): the reason says who decided and why; see README, Moderation. */
  kicked: { code: 4010, reason: 'kicked by a moderator' },
  banned: { code: 4011, reason: 'banned from this room' },
  rulesChanged: { code: 4012, reason: 'the room’s rules no longer let you in' },
} as const;

/** A close reason fits in 123 bytes of UTF-8 (RFC 6455 §5.5): longer ones are cut, never mid-character. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch + '…') > 123) break;
    out += ch;
  }
  return out + '…';
}
