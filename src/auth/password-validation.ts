import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { AuthError } from './auth.exception';

/**
 * Django's four default password validators (django/contrib/auth/password_validation.py, 3.2, in the
 * order `startproject` lists them), with Django's messages word for word. Python counts and compares
 * code points, so strings are split with Array.from, never indexed by UTF-16 unit.
 * test/password-validation.e2e-spec.ts checks a corpus against real Django's validate_password.
 */

/** What the similarity check compares a password with (Django's User attributes). */
export interface PasswordOwner {
  username?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
}

/** Django's DEFAULT_USER_ATTRIBUTES with each field's verbose_name, which its message names. */
const OWNER_ATTRIBUTES: ReadonlyArray<[keyof PasswordOwner, string]> = [
  ['username', 'username'],
  ['firstName', 'first name'],
  ['lastName', 'last name'],
  ['email', 'email address'],
];

const MAX_SIMILARITY = 0.7;

/** Python's re `\W+` on str: Python's `\w` is exactly letters, numbers and `_` (checked for all of Unicode). */
const NON_WORD = /[^\p{L}\p{N}_]+/u;

/** What Python's str.strip() removes (str.isspace()), which differs from String.prototype.trim(). */
const PY_SPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/**
 * Python's str.isdigit(): Numeric_Type Decimal (\p{Nd}) or Digit. The Digit ones (superscripts,
 * circled digits, …) have no regex property; these ranges are Python 3.11's (Unicode 14).
 */
const DIGIT =
  /^(?:\p{Nd}|[\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792\u{10a40}-\u{10a43}\u{10e60}-\u{10e68}\u{11052}-\u{1105a}\u{1f100}-\u{1f10a}])+$/u;

/** Python's SequenceMatcher(a=a, b=b).quick_ratio(): an upper bound on ratio() from the multisets. */
export function quickRatio(a: readonly string[], b: readonly string[]): number {
  const available = new Map<string, number>();
  for (const c of b) available.set(c, (available.get(c) ?? 0) + 1);
  let matches = 0;
  for (const c of a) {
    const n = available.get(c) ?? 0;
    available.set(c, n - 1);
    if (n > 0) matches++;
  }
  const length = a.length + b.length;
  return length ? (2 * matches) / length : 1;
}

/** Django's exceeds_maximum_length_ratio: a value this much shorter cannot be similar enough to test. */
function exceedsMaximumLengthRatio(passwordLength: number, valueLength: number): boolean {
  return passwordLength >= 10 * valueLength && valueLength < (MAX_SIMILARITY / 2) * passwordLength;
}

/** UserAttributeSimilarityValidator (max_similarity 0.7), the full value and each of its words. */
export function similarityProblem(password: string, owner: PasswordOwner | undefined): string | null {
  if (!owner) return null;
  const pwd = Array.from(password.toLowerCase());
  for (const [attribute, verboseName] of OWNER_ATTRIBUTES) {
    const value = owner[attribute];
    if (!value) continue;
    const lower = value.toLowerCase();
    for (const part of [...lower.split(NON_WORD), lower]) {
      const chars = Array.from(part);
      if (exceedsMaximumLengthRatio(pwd.length, chars.length)) continue;
      if (quickRatio(pwd, chars) >= MAX_SIMILARITY)
        return `The password is too similar to the ${verboseName}.`;
    }
  }
  return null;
}

/** MinimumLengthValidator, with Django's ngettext forms. */
export function lengthProblem(password: string, minLength: number): string | null {
  if (Array.from(password).length >= minLength) return null;
  const unit = minLength === 1 ? 'character' : 'characters';
  return `This password is too short. It must contain at least ${minLength} ${unit}.`;
}

/** CommonPasswordValidator: the lowercased, stripped password is in Django's list. */
export function commonProblem(password: string, common: ReadonlySet<string>): string | null {
  return common.has(password.toLowerCase().replace(PY_STRIP, '')) ? 'This password is too common.' : null;
}

/** NumericPasswordValidator (Python's isdigit(), so "" and "1.5" are not numeric, "²³" is). */
export function numericProblem(password: string): string | null {
  return DIGIT.test(password) ? 'This password is entirely numeric.' : null;
}

export const COMMON_PASSWORDS_FILE = 'common-passwords.txt.gz';

/**
 * Django's list, shipped in src/auth/common-passwords/ (see its README for origin and licence). A
 * build (dist/src/auth/, .test-build/src/auth/) finds it in the sources: tsc copies no data files.
 */
export function commonPasswordsPath(): string {
  const candidates = [
    join(__dirname, 'common-passwords', COMMON_PASSWORDS_FILE),
    resolve(__dirname, '..', '..', '..', 'src', 'auth', 'common-passwords', COMMON_PASSWORDS_FILE),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found)
    throw new Error(`Django's common password list is missing: looked for ${candidates.join(', ')}`);
  return found;
}

/** Each line stripped, as Django reads it (Python's universal newlines: \n, \r\n or \r ends a line). */
export function loadCommonPasswords(path = commonPasswordsPath()): Set<string> {
  const lines = gunzipSync(readFileSync(path))
    .toString('utf8')
    .split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop(); // a final newline ends the last line, no more
  return new Set(lines.map((line) => line.replace(PY_STRIP, '')));
}

/** Every validator's complaint about a password, in Django's order; empty when it passes. */
export function passwordProblems(
  password: string,
  owner: PasswordOwner | undefined,
  rules: { minLength: number; common: ReadonlySet<string> },
): string[] {
  return [
    similarityProblem(password, owner),
    lengthProblem(password, rules.minLength),
    commonProblem(password, rules.common),
    numericProblem(password),
  ].filter((problem): problem is string => problem !== null);
}

/** A password the validators refused: HTTP 400 with `message` listing every reason, manage exit 2. */
export class PasswordRejected extends AuthError {
  constructor(readonly reasons: string[]) {
    super('invalid', reasons.join(' '));
  }

  override get messages(): string[] {
    return this.reasons;
  }
}

/** The validators as a provider: PASSWORD_MIN_LENGTH and the list, loaded once (a missing list stops the start). */
@Injectable()
export class PasswordValidator {
  private readonly common = loadCommonPasswords();
  private readonly minLength: number;

  constructor(config: AppConfig) {
    this.minLength = config.passwordMinLength;
  }

  problems(password: string, owner?: PasswordOwner): string[] {
    return passwordProblems(password, owner, { minLength: this.minLength, common: this.common });
  }

  /** Throws PasswordRejected with every reason (Django's validate_password). */
  check(password: string, owner?: PasswordOwner): void {
    const reasons = this.problems(password, owner);
    if (reasons.length > 0) throw new PasswordRejected(reasons);
  }
}
