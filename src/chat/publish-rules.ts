/**
 * What the publish API checks of a text and a bot name before a message is posted: the same limits
 * a socket's text meets (NUL, CHAT_MAX_MESSAGE_BYTES), plus what only JSON can carry.
 */
import { refusedText } from './chat.protocol';

/** Django's auth_user.username length: a bot is named at most as long as a user. */
export const MAX_BOT_NAME_CHARS = 150;
/** The most rooms one broadcast may name. */
export const MAX_BROADCAST_ROOMS = 100;

/** Lone surrogates: JSON's `\ud800` can carry them, a WebSocket text frame (valid UTF-8) cannot. */
const LONE_SURROGATE = /\p{Cs}/u;
/** Control characters (C0, DEL, C1) and line or paragraph separators: nothing a name prints. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}]/u;

/** Why `text` cannot be posted, or null. `maxBytes` is CHAT_MAX_MESSAGE_BYTES, as for a socket's frame. */
export function textRefusal(text: string, maxBytes: number): string | null {
  const nul = refusedText(text);
  if (nul !== null) return nul;
  // UTF-16 units ≤ UTF-8 bytes ≤ 3 per unit: count the bytes only when it could matter.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxBytes)
      return `text is ${bytes} bytes of UTF-8; a chat message may have at most ${maxBytes} (CHAT_MAX_MESSAGE_BYTES)`;
  }
  if (LONE_SURROGATE.test(text)) return 'text must be valid Unicode (it has a lone surrogate)';
  return null;
}

/** Why `name` cannot name a bot, or null: 1 to 150 printable characters, not only spaces. */
export function botNameRefusal(name: string): string | null {
  const message = `name must be 1 to ${MAX_BOT_NAME_CHARS} printable characters (a bot's display name)`;
  if (name.length === 0 || name.length > 2 * MAX_BOT_NAME_CHARS) return message;
  if (UNPRINTABLE.test(name) || name.trim() === '') return message;
  let chars = 0;
  for (const _ of name) if (++chars > MAX_BOT_NAME_CHARS) return message;
  return null;
}
