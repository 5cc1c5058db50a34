import { pbkdf2Sync } from 'node:crypto';
import { ExecFileCommandRunner } from '../common/command-runner';
import { PasswordHasher, parseDjangoHash } from './password-hasher';
import { Pbkdf2Pool } from './pbkdf2-pool';

describe('PasswordHasher', () => {
  const pool = new Pbkdf2Pool({ size: 1, commands: new ExecFileCommandRunner() });
  afterAll(() => pool.close());
  const hasherAt = (passwordIterations: number) => new PasswordHasher(pool, { passwordIterations });
  const hasher = hasherAt(1000);

  it('hashes in Django format and verifies', async () => {
    const encoded = await hasher.hash('s3cret');
    expect(encoded).toMatch(/^pbkdf2_sha256\$1000\$[A-Za-z0-9]{22}\$[A-Za-z0-9+/]{43}=$/);
    expect(await hasher.verify('s3cret', encoded)).toEqual({ valid: true, mustUpdate: false });
    expect(await hasher.verify('wrong', encoded)).toEqual({ valid: false, mustUpdate: false });
  });

  it('verifies other iteration counts and asks for an update when weaker', async () => {
    const weak = await hasherAt(500).hash('pw');
    expect(await hasher.verify('pw', weak)).toEqual({ valid: true, mustUpdate: true });
    const stronger = await hasherAt(2000).hash('pw');
    expect(await hasher.verify('pw', stronger)).toEqual({ valid: true, mustUpdate: false });
  });

  it('verifies pbkdf2_sha1 and asks to upgrade it', async () => {
    const h = pbkdf2Sync('pw', 'salty', 1200, 20, 'sha1').toString('base64');
    expect(await hasher.verify('pw', `pbkdf2_sha1$1200$salty$${h}`)).toEqual({
      valid: true,
      mustUpdate: true,
    });
  });

  it('never matches unusable or malformed hashes', async () => {
    const good = await hasher.hash('pw');
    for (const bad of [
      '!' + good,
      '',
      'md5$x$y',
      'pbkdf2_sha256$abc$s$h',
      'pbkdf2_sha256$10$$AAAA',
      good + '$x',
    ]) {
      expect((await hasher.verify('pw', bad)).valid).toBe(false);
    }
    expect((await hasher.verify('pw', null)).valid).toBe(false);
    expect(PasswordHasher.isUsable(PasswordHasher.unusable())).toBe(false);
    expect(parseDjangoHash(good)?.iterations).toBe(1000);
  });
});
