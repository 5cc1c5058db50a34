import { randomBytes } from 'node:crypto';

/** How many recovery codes an enrolment gives. */
export const RECOVERY_CODE_COUNT = 10;
/** Letters and digits that cannot be read as one another (no 0/o, 1/l/i). */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_LENGTH = 10; // 31^10 ≈ 2^49.5

/** What a person typed where a code is asked: an authenticator code or a recovery code. */
export type EnteredCode = { kind: 'totp'; code: string } | { kind: 'recovery'; code: string };

/** The message for a code that is neither shape. */
export const CODE_SHAPE_MESSAGE =
  'code must be the 6-digit code from your authenticator app or a recovery code (xxxxx-xxxxx)';

/**
 * Reads a code as typed: spaces and dashes are ignored ("123 456", "abcde-fghjk"), recovery codes
 * in any case. Null for anything else.
 */
export function parseCode(input: unknown): EnteredCode | null {
  if (typeof input !== 'string' || input.length > 64) return null;
  const clean = input.replace(/[\s-]/g, '');
  if (/^\d{6}$/.test(clean)) return { kind: 'totp', code: clean };
  const lower = clean.toLowerCase();
  if (lower.length === RECOVERY_LENGTH && [...lower].every((c) => RECOVERY_ALPHABET.includes(c)))
    return { kind: 'recovery', code: lower };
  return null;
}

/** New recovery codes as shown to the person: `xxxxx-xxxxx`. */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  const codes: string[] = [];
  while (codes.length < count) {
    let code = '';
    while (code.length < RECOVERY_LENGTH) {
      for (const byte of randomBytes(16)) {
        // 248 = 8 × 31: bytes above it would favour the first letters.
        if (byte < 248 && code.length < RECOVERY_LENGTH) code += RECOVERY_ALPHABET[byte % 31];
      }
    }
    const shown = `${code.slice(0, 5)}-${code.slice(5)}`;
    if (!codes.includes(shown)) codes.push(shown);
  }
  return codes;
}

/** What is wrong with a `code` field of a request (null: a code of either kind). */
export function codeProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'code must be a string';
  return parseCode(value) ? null : CODE_SHAPE_MESSAGE;
}
