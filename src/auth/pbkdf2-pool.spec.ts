import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { defaultHashThreads, Pbkdf2Pool } from './pbkdf2-pool';

/** nice (field 19) and policy (field 41) of one of this process's threads, as the kernel shows them. */
function kernelView(tid: number): { nice: number; policy: number } {
  const fields = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ').pop()!.split(' ');
  return { nice: Number(fields[16]), policy: Number(fields[38]) };
}
const SCHED_OTHER = 0;
const SCHED_IDLE = 5;
const linux = process.platform === 'linux';

describe('Pbkdf2Pool', () => {
  const pool = new Pbkdf2Pool({ size: 2 });
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

  it('runs its threads under SCHED_IDLE at nice 19 on Linux, started ahead by warm()', async () => {
    const fresh = new Pbkdf2Pool({ size: 2 });
    expect(fresh.threads()).toEqual([]);
    await fresh.warm();
    const threads = fresh.threads();
    expect(threads).toHaveLength(2);
    if (linux) {
      for (const t of threads) {
        expect(t).toMatchObject({ nice: 19, policy: 'SCHED_IDLE' });
        // What the thread reported is what the kernel shows from outside it.
        expect(kernelView(t.tid!)).toEqual({ nice: 19, policy: SCHED_IDLE });
      }
    }
    await fresh.close();
    expect(fresh.threads()).toEqual([]);
  });

  it('stays at nice 19 and still hashes when chrt cannot be run, warning once', async () => {
    const noChrt = new Pbkdf2Pool({ size: 2, chrt: '/nonexistent/chrt' });
    const warn = jest
      .spyOn((noChrt as unknown as { logger: { warn: () => void } }).logger, 'warn')
      .mockImplementation();
    await noChrt.warm();
    if (linux) {
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0])).toMatch(/without SCHED_IDLE: .*nonexistent\/chrt.*ENOENT/);
      for (const t of noChrt.threads()) {
        expect(t).toMatchObject({ nice: 19, policy: 'SCHED_OTHER' });
        expect(kernelView(t.tid!)).toEqual({ nice: 19, policy: SCHED_OTHER });
      }
    }
    expect(
      (await noChrt.derive('pw', 'salt', 1000, 32, 'sha256')).equals(
        pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256'),
      ),
    ).toBe(true);
    await noChrt.close();
  });

  it('leaves one core to the event loop by default', () => {
    expect(defaultHashThreads(1)).toBe(1);
    expect(defaultHashThreads(2)).toBe(1);
    expect(defaultHashThreads(8)).toBe(7);
    expect(new Pbkdf2Pool().threadCount).toBe(defaultHashThreads());
    expect(() => new Pbkdf2Pool({ size: 0 })).toThrow(/integer >= 1/);
  });

  it('never runs more threads than its size, also after resize()', async () => {
    const sized = new Pbkdf2Pool({ size: 3 });
    await sized.warm();
    expect(sized.threads()).toHaveLength(3);
    const inFlight = Array.from({ length: 6 }, (_, i) =>
      sized.derive(`pw${i}`, 'salt', 50_000, 32, 'sha256'),
    );
    sized.resize(1);
    const keys = await Promise.all(inFlight);
    keys.forEach((key, i) =>
      expect(key.equals(pbkdf2Sync(`pw${i}`, 'salt', 50_000, 32, 'sha256'))).toBe(true),
    );
    // Threads that were busy when the pool shrank stop as they finish.
    expect(sized.threads()).toHaveLength(1);
    sized.resize(2);
    await sized.warm();
    expect(sized.threads()).toHaveLength(2);
    await sized.close();
  });

  it('rejects a bad digest without losing the thread', async () => {
    await expect(pool.derive('pw', 'salt', 1000, 32, 'no-such-digest')).rejects.toThrow(/digest/i);
    expect((await pool.derive('pw', 'salt', 1000, 32, 'sha256')).length).toBe(32);
  });

  it('fails queued work when closed', async () => {
    const other = new Pbkdf2Pool({ size: 1 });
    const running = other.derive('pw', 'salt', 200_000, 32, 'sha256').catch((err: Error) => err);
    const queued = other.derive('pw', 'salt', 1000, 32, 'sha256').catch((err: Error) => err);
    await other.close();
    expect(String(await queued)).toMatch(/closed/);
    expect(String(await running)).toMatch(/closed/);
  });
});
