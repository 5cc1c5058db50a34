import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AppConfig } from '../config/app.config';
import {
  commonPasswordsPath,
  commonProblem,
  lengthProblem,
  loadCommonPasswords,
  numericProblem,
  passwordProblems,
  PasswordRejected,
  PasswordValidator,
  quickRatio,
  similarityProblem,
} from './password-validation';

const chars = (s: string) => Array.from(s);

describe('quickRatio (Python SequenceMatcher.quick_ratio)', () => {
  it.each([
    // Values printed by CPython 3.11's difflib.
    ['abcd', 'bcde', 0.75],
    ['root-pass', 'root', 8 / 13],
    ['aaaa', 'a', 0.4],
    ['', '', 1],
    ['abc', '', 0],
    ['😀😀x', '😀', 0.5],
  ])('%j vs %j', (a, b, ratio) => expect(quickRatio(chars(a), chars(b))).toBeCloseTo(ratio, 12));
});

describe("Django's validators", () => {
  const common = new Set(['password', 'letmein']);

  it('similarity: each attribute and each word of it, with its verbose name', () => {
    expect(similarityProblem('newbie-pass', { username: 'newbie' })).toBe(
      'The password is too similar to the username.',
    );
    expect(similarityProblem('Liddell77', { lastName: 'Liddell' })).toBe(
      'The password is too similar to the last name.',
    );
    expect(similarityProblem('alicealice', { firstName: 'Alice' })).toBeNull();
    expect(similarityProblem('alice1', { firstName: 'Alice' })).toBe(
      'The password is too similar to the first name.',
    );
    // "example" is one word of the address.
    expect(similarityProblem('examples', { email: 'bob@example.org' })).toBe(
      'The password is too similar to the email address.',
    );
    expect(similarityProblem('newbie-pass', undefined)).toBeNull();
    expect(similarityProblem('correct horse battery', { username: 'newbie', email: '' })).toBeNull();
  });

  it('similarity skips values far shorter than the password, as Django does', () => {
    // 'a' against a 10-character password: never compared (quick_ratio would be 0.18 anyway).
    expect(similarityProblem('aaaaaaaaaa', { username: 'a' })).toBeNull();
  });

  it('minimum length counts characters (code points), with the singular form at 1', () => {
    expect(lengthProblem('1234567', 8)).toBe(
      'This password is too short. It must contain at least 8 characters.',
    );
    expect(lengthProblem('12345678', 8)).toBeNull();
    expect(lengthProblem('😀😀😀😀', 5)).not.toBeNull(); // 8 UTF-16 units, 4 characters
    expect(lengthProblem('', 1)).toBe('This password is too short. It must contain at least 1 character.');
  });

  it('common: lowercased and stripped as Python strips (\\x1c and \\x85 too)', () => {
    expect(commonProblem('PassWord', common)).toBe('This password is too common.');
    expect(commonProblem(' \t\x1cletmein\x85\u3000', common)).toBe('This password is too common.');
    expect(commonProblem('pass word', common)).toBeNull();
    expect(commonProblem('\ufeffletmein', common)).toBeNull(); // not whitespace to Python
  });

  it("numeric: Python's isdigit (decimal digits of any script, superscripts), not '' or '1.5'", () => {
    for (const numeric of ['12345678', '١٢٣٤٥٦٧٨', '²³¹', '①②③'])
      expect(numericProblem(numeric)).toBe('This password is entirely numeric.');
    for (const other of ['', '1.5', '-1', '12345678a', '½', 'Ⅻ']) expect(numericProblem(other)).toBeNull();
  });

  it('lists every reason, in the order of Django’s settings, or none', () => {
    expect(passwordProblems('1', { username: '1' }, { minLength: 8, common: new Set(['1']) })).toEqual([
      'The password is too similar to the username.',
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
      'This password is entirely numeric.',
    ]);
    expect(
      passwordProblems('correct horse battery staple', { username: 'alice' }, { minLength: 8, common }),
    ).toEqual([]);
  });
});

describe("Django's common password list", () => {
  it('is found next to the sources and holds its 19,727 distinct lines', () => {
    expect(commonPasswordsPath()).toMatch(/src\/auth\/common-passwords\/common-passwords\.txt\.gz$/);
    const list = loadCommonPasswords();
    expect(list.size).toBe(19_727);
    for (const p of ['password', '12345678', 'qwerty', 'chobits']) expect(list.has(p)).toBe(true);
  });

  it('is read with each line stripped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-common-'));
    try {
      writeFileSync(join(dir, 'list.gz'), gzipSync(' hunter2 \r\nletmein\n'));
      expect([...loadCommonPasswords(join(dir, 'list.gz'))]).toEqual(['hunter2', 'letmein']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PasswordValidator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'live-pv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses PASSWORD_MIN_LENGTH and throws every reason at once', () => {
    const validator = new PasswordValidator(new AppConfig({ DATA_DIR: dir, PASSWORD_MIN_LENGTH: '12' }));
    expect(validator.problems('a-fine-pass')).toEqual([
      'This password is too short. It must contain at least 12 characters.',
    ]);
    let thrown: unknown;
    try {
      validator.check('password', { username: 'passw' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PasswordRejected);
    const rejected = thrown as PasswordRejected;
    expect(rejected.kind).toBe('invalid');
    expect(rejected.status).toBe(400);
    expect(rejected.messages).toEqual([
      'The password is too similar to the username.',
      'This password is too short. It must contain at least 12 characters.',
      'This password is too common.',
    ]);
    expect(() => validator.check('a much longer passphrase')).not.toThrow();
  });
});
