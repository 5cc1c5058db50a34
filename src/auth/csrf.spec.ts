import { csrfSecret, newCsrfToken } from './csrf';

describe('CSRF tokens as Django makes them', () => {
  it('new tokens are 32 characters of [a-zA-Z0-9], each one different', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => newCsrfToken()));
    expect(tokens.size).toBe(200);
    for (const t of tokens) expect(t).toMatch(/^[a-zA-Z0-9]{32}$/);
  });

  it('unmasks a 64-character token to the secret it was masked from', () => {
    const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const secret = newCsrfToken();
    const mask = newCsrfToken();
    // Django's _mask_cipher_secret: each character shifted by the mask's, modulo 62.
    const masked =
      mask + [...secret].map((c, i) => chars[(chars.indexOf(c) + chars.indexOf(mask[i])) % 62]).join('');
    expect(csrfSecret(masked)).toBe(secret);
    expect(csrfSecret(secret)).toBe(secret);
    expect(csrfSecret('legacy_live-token_base64url_0123')).toBe('legacy_live-token_base64url_0123');
  });
});
