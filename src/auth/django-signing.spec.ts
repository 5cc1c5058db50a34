import { deflateSync } from 'node:zlib';
import {
  pythonCompactJson,
  saltedHmac,
  SESSION_SALT,
  sessionAuthHash,
  sessionAuthHashMatches,
  signObject,
  unsignObject,
} from './django-signing';

const KEY = 'k'.repeat(40);
const OLD = 'o'.repeat(40);

describe('django signing (session_data)', () => {
  // 1r31eq: Django 3.2's baseconv.base62.encode(1700000000).
  it('round-trips an object, base64url with a base62 time stamp and a 43-character signature', () => {
    const signed = signObject({ _auth_user_id: '7', note: 'é ✓' }, KEY, SESSION_SALT, 1_700_000_000_000);
    expect(signed).toMatch(/^[A-Za-z0-9_-]+:1r31eq:[A-Za-z0-9_-]{43}$/);
    expect(unsignObject(signed, [KEY], SESSION_SALT)).toEqual({
      ok: true,
      value: { _auth_user_id: '7', note: 'é ✓' },
    });
  });

  it('compresses (leading ".") only when that is shorter, and reads it back', () => {
    const big = { data: 'abc'.repeat(200) };
    const signed = signObject(big, KEY, SESSION_SALT);
    expect(signed.startsWith('.')).toBe(true);
    expect(unsignObject(signed, [KEY], SESSION_SALT)).toEqual({ ok: true, value: big });
    expect(signObject({ a: 1 }, KEY, SESSION_SALT).startsWith('.')).toBe(false);
  });

  it('writes JSON the way Python does: compact, non-ASCII escaped', () => {
    expect(pythonCompactJson({ a: 'é', b: [1, 2], c: '😀\u007f' })).toBe(
      '{"a":"\\u00e9","b":[1,2],"c":"\\ud83d\\ude00\\u007f"}',
    );
  });

  it('reads with a fallback key, refuses another key, another salt and any tampering', () => {
    const signed = signObject({ x: 1 }, OLD, SESSION_SALT);
    expect(unsignObject(signed, [KEY, OLD], SESSION_SALT).ok).toBe(true);
    expect(unsignObject(signed, [KEY], SESSION_SALT)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(unsignObject(signed, [OLD], 'another.salt')).toEqual({ ok: false, reason: 'bad_signature' });
    const [payload, stamp, signature] = signed.split(':');
    const flipped = payload.slice(0, -1) + (payload.endsWith('A') ? 'B' : 'A');
    expect(unsignObject(`${flipped}:${stamp}:${signature}`, [OLD], SESSION_SALT).ok).toBe(false);
    expect(unsignObject(`${payload}:${stamp}:${signature.slice(0, 20)}`, [OLD], SESSION_SALT).ok).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['plain JSON (live before the bridge)', '{"_auth_user_id":"1"}'],
    ['pre-3.1 Django (base64 of hash:json)', 'ZmFrZWhhc2g6eyJfYXV0aF91c2VyX2lkIjoiMSJ9'],
    ['no time stamp', 'eyJhIjoxfQ:c2ln'],
    ['spaces', 'a b:1:c'],
    ['NUL', 'a\u0000:1:c'],
  ])('refuses %s without throwing', (_name, value) => {
    expect(unsignObject(value, [KEY], SESSION_SALT).ok).toBe(false);
  });

  it('refuses a validly signed payload that is not JSON, or a zlib bomb', () => {
    const signRaw = (payload: string) => {
      const value = `${payload}:1r31eq`;
      return `${value}:${saltedHmac(SESSION_SALT + 'signer', value, KEY).toString('base64url')}`;
    };
    const notJson = Buffer.from('{not json').toString('base64url');
    expect(unsignObject(signRaw(notJson), [KEY], SESSION_SALT)).toEqual({ ok: false, reason: 'bad_payload' });
    const bomb = '.' + deflateSync(Buffer.alloc(5_000_000, 0x20)).toString('base64url');
    expect(unsignObject(signRaw(bomb), [KEY], SESSION_SALT)).toEqual({ ok: false, reason: 'bad_payload' });
    expect(unsignObject(signRaw(Buffer.from('{"a":1}').toString('base64url')), [KEY], SESSION_SALT)).toEqual({
      ok: true,
      value: { a: 1 },
    });
  });

  it('ties the session auth hash to the password hash and the key (or a fallback)', () => {
    const hash = sessionAuthHash('pbkdf2_sha256$1000$salt$abc', KEY);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(sessionAuthHashMatches(hash, 'pbkdf2_sha256$1000$salt$abc', [KEY])).toBe(true);
    expect(sessionAuthHashMatches(hash, 'pbkdf2_sha256$1000$salt$abd', [KEY])).toBe(false);
    expect(sessionAuthHashMatches(hash, 'pbkdf2_sha256$1000$salt$abc', [OLD])).toBe(false);
    expect(sessionAuthHashMatches(hash, 'pbkdf2_sha256$1000$salt$abc', [OLD, KEY])).toBe(true);
    expect(sessionAuthHashMatches(undefined, 'x', [KEY])).toBe(false);
    expect(sessionAuthHashMatches('zz', 'x', [KEY])).toBe(false);
  });
});
