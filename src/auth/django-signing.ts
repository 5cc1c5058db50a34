import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';

/**
 * django.core.signing, as Django ≥ 3.1 writes it (sessions, `signing.dumps`): what live needs to read
 * and write `django_session.session_data` that Django itself accepts. The format:
 *
 *   base64url(JSON, or "." + base64url(zlib(JSON)) when that is shorter) ":" base62(unix time) ":"
 *   base64url(HMAC-SHA256(key = SHA-256(salt + "signer" + secret), message = everything before))
 *
 * with base64 padding stripped. See django/core/signing.py and django/utils/crypto.py (salted_hmac).
 */

/** The salt Django's database session backend signs with. */
export const SESSION_SALT = 'django.contrib.sessions.SessionStore';
/** The key salt of AbstractBaseUser.get_session_auth_hash. */
const SESSION_AUTH_HASH_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** django.utils.crypto.salted_hmac with SHA-256: HMAC keyed by SHA-256(keySalt + secret). */
export function saltedHmac(keySalt: string, value: string | Buffer, secret: string): Buffer {
  const key = createHash('sha256').update(keySalt).update(secret).digest();
  return createHmac('sha256', key).update(value).digest();
}

/**
 * The `_auth_user_hash` Django keeps in a session: tied to the password hash, so changing the
 * password ends every session made before (on either side).
 */
export function sessionAuthHash(passwordHash: string, secret: string): string {
  return saltedHmac(SESSION_AUTH_HASH_SALT, passwordHash, secret).toString('hex');
}

/** Whether `candidate` is the session auth hash of `passwordHash` under the key or a fallback. */
export function sessionAuthHashMatches(
  candidate: unknown,
  passwordHash: string,
  secrets: readonly string[],
): boolean {
  if (typeof candidate !== 'string' || !/^[0-9a-f]{64}$/.test(candidate)) return false;
  const given = Buffer.from(candidate, 'hex');
  return secrets.some((secret) =>
    timingSafeEqual(given, saltedHmac(SESSION_AUTH_HASH_SALT, passwordHash, secret)),
  );
}

function b64encode(data: Buffer): string {
  return data.toString('base64url');
}

function b62encode(n: number): string {
  if (n === 0) return '0';
  let out = '';
  for (let v = n; v > 0; v = Math.floor(v / 62)) out = B62[v % 62] + out;
  return out;
}

/**
 * Python's json.dumps(obj, separators=(",", ":")) with its default ensure_ascii: every character
 * outside ASCII as a \uXXXX escape (UTF-16 units, as Python writes them).
 */
export function pythonCompactJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

function signature(value: string, salt: string, secret: string): string {
  return b64encode(saltedHmac(salt + 'signer', value, secret));
}

/** signing.dumps(obj, key=secret, salt=salt, serializer=JSONSerializer, compress=True). */
export function signObject(obj: unknown, secret: string, salt: string, now = Date.now()): string {
  let data = Buffer.from(pythonCompactJson(obj), 'latin1');
  let compressed = false;
  const zipped = deflateSync(data);
  if (zipped.length < data.length - 1) {
    data = zipped;
    compressed = true;
  }
  const payload = (compressed ? '.' : '') + b64encode(data);
  const value = `${payload}:${b62encode(Math.floor(now / 1000))}`;
  return `${value}:${signature(value, salt, secret)}`;
}

/** Why a signed value was refused (never its content). */
export type UnsignFailure = 'malformed' | 'bad_signature' | 'bad_payload';

/**
 * signing.loads: the object signed by the key or one of its fallbacks, or why it was refused. Age
 * is not checked here: a session's expiry is its `expire_date`, as in Django's session store.
 */
export function unsignObject(
  signed: string,
  secrets: readonly string[],
  salt: string,
): { ok: true; value: unknown } | { ok: false; reason: UnsignFailure } {
  const last = signed.lastIndexOf(':');
  if (last <= 0 || signed.length > 1_000_000) return { ok: false, reason: 'malformed' };
  const value = signed.slice(0, last);
  const given = signed.slice(last + 1);
  const stamp = value.lastIndexOf(':');
  if (stamp <= 0 || !/^[0-9A-Za-z]+$/.test(value.slice(stamp + 1)) || !/^[A-Za-z0-9_-]+$/.test(given))
    return { ok: false, reason: 'malformed' };
  const givenBytes = Buffer.from(given, 'base64url');
  const valid = secrets.some((secret) => {
    const expected = saltedHmac(salt + 'signer', value, secret);
    return expected.length === givenBytes.length && timingSafeEqual(expected, givenBytes);
  });
  if (!valid) return { ok: false, reason: 'bad_signature' };
  let payload = value.slice(0, stamp);
  const compressed = payload.startsWith('.');
  if (compressed) payload = payload.slice(1);
  try {
    let data = Buffer.from(payload, 'base64url');
    // A bomb inside a validly signed value would need the secret; the cap is a second fence.
    if (compressed) data = inflateSync(data, { maxOutputLength: 1_000_000 });
    return { ok: true, value: JSON.parse(data.toString('latin1')) as unknown };
  } catch {
    return { ok: false, reason: 'bad_payload' };
  }
}
