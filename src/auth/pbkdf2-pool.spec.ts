import { pbkdf2Sync } from 'node:crypto';
import { Pbkdf2Pool } from './pbkdf2-pool';

describe('Pbkdf2Pool', () => {
  const pool = new Pbkdf2Pool(2);
  afterAll(() => pool.close());

  it('derives the same keys as crypto.pbkdf2Sync, many at once', async () => {
    const inputs = Array.from({ length: 9 }, (_, i) => ({ password: `pw-${i}`, salt: `salt${i}` }));
    const keys = await Promise.all(inputs.map((x) => pool.derive(x.password, x.salt, 2000, 32, 'sha256')));
    keys.forEach((key, i) =>
      expect(key.equals(pbkdf2Sync(inputs[i].password, inputs[i].salt, 2000, 32, 'sha256'))).toBe(true),
    );
    const sha1 = await pool.derive('pw', 'salty', 1200, 20, 'sha1');
    expect(sha1.toString('hex')).toBe(pbkdf2Sync('pw', 'salty', 1200, 20, 'sha1').toString('hex'));
  });

  it('runs its threads at the lowest priority on Linux, started ahead by warm()', async () => {
    const fresh = new Pbkdf2Pool(2);
    expect(fresh.niceness).toBeNull();
    await fresh.warm();
    if (process.platform === 'linux') expect(fresh.niceness).toBe(19);
    await fresh.close();
    await pool.derive('pw', 'salt', 1000, 32, 'sha256');
    if (process.platform === 'linux') expect(pool.niceness).toBe(19);
  });

  it('rejects a bad digest without losing the thread', async () => {
    await expect(pool.derive('pw', 'salt', 1000, 32, 'no-such-digest')).rejects.toThrow(/digest/i);
    expect((await pool.derive('pw', 'salt', 1000, 32, 'sha256')).length).toBe(32);
  });

  it('fails queued work when closed', async () => {
    const other = new Pbkdf2Pool(1);
    const running = other.derive('pw', 'salt', 200_000, 32, 'sha256').catch((err: Error) => err);
    const queued = other.derive('pw', 'salt', 1000, 32, 'sha256').catch((err: Error) => err);
    await other.close();
    expect(String(await queued)).toMatch(/closed/);
    expect(String(await running)).toMatch(/closed/);
  });
});
