import { CodeHasher, SecretBox } from './secret-box';

const KEY = 'k'.repeat(40);
const OLD = 'o'.repeat(40);

describe('SecretBox', () => {
  it('seals with SECRET_KEY and opens, bound to its additional data', () => {
    const box = new SecretBox([KEY], 'live.test');
    const sealed = box.seal(Buffer.from('the secret'), 'row:1');
    expect(sealed).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(sealed).not.toContain(Buffer.from('the secret').toString('base64url'));
    expect(box.open(sealed, 'row:1')).toEqual({ plain: Buffer.from('the secret'), stale: false });
    expect(box.open(sealed, 'row:2')).toBeNull();
    expect(box.seal(Buffer.from('the secret'), 'row:1')).not.toBe(sealed); // a fresh IV each time
  });

  it('opens with a fallback key and says so; another purpose or key cannot open it', () => {
    const sealed = new SecretBox([OLD], 'live.test').seal(Buffer.from('x'), 'a');
    expect(new SecretBox([KEY, OLD], 'live.test').open(sealed, 'a')).toEqual({
      plain: Buffer.from('x'),
      stale: true,
    });
    expect(new SecretBox([KEY], 'live.test').open(sealed, 'a')).toBeNull();
    expect(new SecretBox([OLD], 'live.other').open(sealed, 'a')).toBeNull();
  });

  it('refuses malformed and tampered values', () => {
    const box = new SecretBox([KEY], 'live.test');
    const sealed = box.seal(Buffer.from('x'), 'a');
    const parts = sealed.split(':');
    const flipped = Buffer.from(parts[2], 'base64url');
    flipped[0] ^= 1;
    for (const bad of [
      '',
      'v1',
      'v2:a:b:c',
      'v1:::',
      [parts[0], parts[1], flipped.toString('base64url'), parts[3]].join(':'),
    ])
      expect(box.open(bad, 'a')).toBeNull();
  });
});

describe('CodeHasher', () => {
  it('hashes under the key and finds a code hashed under a fallback', () => {
    const before = new CodeHasher([OLD], 'live.codes').hash('abcde');
    const after = new CodeHasher([KEY, OLD], 'live.codes');
    expect(after.hash('abcde')).not.toBe(before);
    expect(after.all('abcde')).toContain(before);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
  });
});
