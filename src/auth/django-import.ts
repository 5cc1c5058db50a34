import { parseDjangoHash, UNUSABLE_PASSWORD_PREFIX } from './password-hasher';
import type { User } from './user.entity';
import { USERNAME_PATTERN } from './users.dto';

/** One user from `manage.py dumpdata auth.user`, checked and mapped to our columns. */
export type ImportedUser = Omit<User, 'id'>;

export class DjangoDumpError extends Error {}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * Reads the JSON that Django's `dumpdata auth.user` writes: an array of
 * `{model: "auth.user", pk, fields: {...}}`. Every record is checked before anything is imported;
 * the first bad one is reported with its number (1-based) and what is wrong.
 */
export function parseDjangoUserDump(text: string): ImportedUser[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new DjangoDumpError(`not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new DjangoDumpError('expected a JSON array of records (dumpdata output)');
  const seen = new Set<string>();
  return data.map((record: unknown, index) => {
    const n = index + 1;
    const fail = (why: string): never => {
      throw new DjangoDumpError(`record ${n}: ${why}`);
    };
    if (typeof record !== 'object' || record === null) fail('not an object');
    const r = record as { model?: unknown; fields?: Record<string, unknown> };
    if (r.model !== 'auth.user') fail(`model is ${JSON.stringify(r.model)}, expected "auth.user"`);
    const f = r.fields;
    if (typeof f !== 'object' || f === null) fail('missing "fields"');
    const str = (name: string, max: number, required = false): string => {
      const v = f![name] ?? '';
      if (typeof v !== 'string') return fail(`${name} must be a string`);
      if (required && !v) return fail(`${name} is empty`);
      if (v.length > max) return fail(`${name} is longer than ${max} characters`);
      return v;
    };
    const bool = (name: string, fallback: boolean): boolean => {
      const v = f![name] ?? fallback;
      if (typeof v !== 'boolean') return fail(`${name} must be true or false`);
      return v;
    };
    const date = (name: string, nullable: boolean): Date | null => {
      const v = f![name];
      if (v === null || v === undefined) return nullable ? null : fail(`${name} is missing`);
      const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
      if (Number.isNaN(d.getTime())) return fail(`${name} is not a date: ${JSON.stringify(v)}`);
      return d;
    };
    const username = str('username', 150, true);
    if (!USERNAME_PATTERN.test(username)) fail(`username "${username}" has characters Django does not allow`);
    if (seen.has(username)) fail(`username "${username}" appears twice`);
    seen.add(username);
    const password = str('password', 128);
    if (password && !password.startsWith(UNUSABLE_PASSWORD_PREFIX) && !parseDjangoHash(password))
      fail(`password of "${username}" is not a pbkdf2_sha256/pbkdf2_sha1 hash live can verify`);
    const email = str('email', 254);
    if (email && !EMAIL.test(email)) fail(`email "${email}" is not an email address`);
    return {
      username,
      // An empty or unknown hash becomes an unusable one: that user resets their password.
      password: password || `${UNUSABLE_PASSWORD_PREFIX}imported`,
      firstName: str('first_name', 150),
      lastName: str('last_name', 150),
      email,
      isActive: bool('is_active', true),
      isStaff: bool('is_staff', false),
      isSuperuser: bool('is_superuser', false),
      lastLogin: date('last_login', true),
      dateJoined: date('date_joined', false) as Date,
    };
  });
}
