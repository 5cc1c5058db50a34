import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app.config';
import { Pbkdf2Pool } from './pbkdf2-pool';

const ALGORITHMS = {
  pbkdf2_sha256: { digest: 'sha256', keyLength: 32 },
  pbkdf2_sha1: { digest: 'sha1', keyLength: 20 },
};
type AlgorithmName = keyof typeof ALGORITHMS;

/** Django's prefix for passwords that can never match (set_unusable_password). */
export const UNUSABLE_PASSWORD_PREFIX = '!';
const SALT_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export interface VerifyResult {
  valid: boolean;
  /** True when the hash should be replaced by one at the configured strength (Django's must_update). */
  mustUpdate: boolean;
}

interface ParsedHash {
  algorithm: AlgorithmName;
  iterations: number;
  salt: string;
  hash: Buffer;
}

export function parseDjangoHash(encoded: string): ParsedHash | null {
  const parts = encoded.split('$');
  if (parts.length !== 4) return null;
  const [algorithm, iterationsText, salt, hashB64] = parts;
  if (!(algorithm in ALGORITHMS) || !/^\d{1,9}$/.test(iterationsText) || salt === '' || salt.includes('$'))
    return null;
  const iterations = Number(iterationsText);
  const hash = Buffer.from(hashB64, 'base64');
  if (iterations < 1 || hash.length === 0) return null;
  return { algorithm: algorithm as AlgorithmName, iterations, salt, hash };
}

/** Random salt like Django's get_random_string(22): about 131 bits from a 62-letter alphabet. */
function makeSalt(length = 22): string {
  const bytes = randomBytes(length * 2);
  let salt = '';
  for (let i = 0; i < bytes.length && salt.length < length; i++) {
    if (bytes[i] < 248) salt += SALT_ALPHABET[bytes[i] % 62]; // 248 = 4 × 62: no modulo bias
  }
  return salt;
}

/**
 * Django-compatible password hashing (`pbkdf2_sha256$<iterations>$<salt>$<base64>`), run on
 * low-priority worker threads so a burst of logins neither blocks nor starves the event loop.
 * The bench and tests build one on a pool of their own: `new PasswordHasher(pool, { passwordIterations })`.
 */
@Injectable()
export class PasswordHasher {
  private readonly iterations: number;

  constructor(
    private readonly pool: Pbkdf2Pool,
    @Inject(AppConfig) config: Pick<AppConfig, 'passwordIterations'>,
  ) {
    this.iterations = config.passwordIterations;
  }

  async hash(password: string): Promise<string> {
    const salt = makeSalt();
    const derived = await this.pool.derive(password, salt, this.iterations, 32, 'sha256');
    return `pbkdf2_sha256$${this.iterations}$${salt}$${derived.toString('base64')}`;
  }

  async verify(password: string, encoded: string | null | undefined): Promise<VerifyResult> {
    const parsed = encoded && !encoded.startsWith(UNUSABLE_PASSWORD_PREFIX) ? parseDjangoHash(encoded) : null;
    if (!parsed) return { valid: false, mustUpdate: false };
    const { digest, keyLength } = ALGORITHMS[parsed.algorithm];
    if (parsed.hash.length !== keyLength) return { valid: false, mustUpdate: false };
    const derived = await this.pool.derive(password, parsed.salt, parsed.iterations, keyLength, digest);
    const valid = timingSafeEqual(derived, parsed.hash);
    return {
      valid,
      mustUpdate: valid && (parsed.algorithm !== 'pbkdf2_sha256' || parsed.iterations < this.iterations),
    };
  }

  /** Burns the same time as a real check, for unknown users (Django's "dummy" hash run). */
  async spendTimeOnUnknownUser(password: string): Promise<void> {
    await this.pool.derive(password, 'dummy-salt-for-timing', this.iterations, 32, 'sha256');
  }

  static isUsable(encoded: string | null | undefined): boolean {
    return !!encoded && !encoded.startsWith(UNUSABLE_PASSWORD_PREFIX) && parseDjangoHash(encoded) !== null;
  }

  static unusable(): string {
    return UNUSABLE_PASSWORD_PREFIX + makeSalt(40);
  }
}
