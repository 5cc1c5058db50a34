import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** A key for one purpose, derived from SECRET_KEY with HKDF-SHA256 (the purpose is HKDF's info). */
export function purposeKey(secretKey: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, 'live', purpose, 32));
}

const VERSION = 'v1';

/**
 * Small secrets encrypted at rest with AES-256-GCM, under a key derived from SECRET_KEY for one
 * purpose. Each value is bound to its row by the additional data (`aad`), so a ciphertext copied
 * into another user's row does not decrypt. Values encrypted under a key now in
 * SECRET_KEY_FALLBACKS still decrypt, and say so (`stale`), so the caller can write them anew.
 */
export class SecretBox {
  private readonly keys: Buffer[];

  /** `secretKeys`: SECRET_KEY first, then its fallbacks. */
  constructor(secretKeys: readonly string[], purpose: string) {
    this.keys = secretKeys.map((k) => purposeKey(k, purpose));
  }

  /** `v1:iv:ciphertext:tag`, each part base64url. */
  seal(plain: Buffer, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0], iv);
    cipher.setAAD(Buffer.from(aad));
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    return [VERSION, iv, ciphertext, cipher.getAuthTag()]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join(':');
  }

  /** The plain bytes, and whether a fallback key opened them; null when no key does. */
  open(sealed: string, aad: string): { plain: Buffer; stale: boolean } | null {
    const parts = sealed.split(':');
    if (parts.length !== 4 || parts[0] !== VERSION) return null;
    const [iv, ciphertext, tag] = parts.slice(1).map((p) => Buffer.from(p, 'base64url'));
    if (iv.length !== 12 || tag.length !== 16) return null;
    for (const [i, key] of this.keys.entries()) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAAD(Buffer.from(aad));
        decipher.setAuthTag(tag);
        const plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
        return { plain, stale: i > 0 };
      } catch {
        // Not this key (the tag does not verify): try the next.
      }
    }
    return null;
  }
}

/**
 * Keyed hashes of single-use codes: HMAC-SHA256 under a purpose key, so a copy of the table alone
 * cannot be searched offline. `all` gives the hash under every key (SECRET_KEY and its fallbacks):
 * a code stored before a rotation still matches.
 */
export class CodeHasher {
  private readonly keys: Buffer[];

  constructor(secretKeys: readonly string[], purpose: string) {
    this.keys = secretKeys.map((k) => purposeKey(k, purpose));
  }

  hash(code: string): string {
    return createHmac('sha256', this.keys[0]).update(code).digest('hex');
  }

  all(code: string): string[] {
    return this.keys.map((key) => createHmac('sha256', key).update(code).digest('hex'));
  }
}
