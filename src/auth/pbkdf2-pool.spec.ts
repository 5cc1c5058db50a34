import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CommandOptions,
  CommandResult,
  CommandRunner,
  ExecFileCommandRunner,
} from '../common/command-runner';
import { MetricsService } from '../metrics/metrics.service';
import { defaultHashThreads, parseThreadStat, Pbkdf2Pool, Pbkdf2PoolOptions } from './pbkdf2-pool';

/** nice (field 19) and policy (field 41) of one of this process's threads, as the kernel shows them. */
function kernelView(tid: number): { nice: number; policy: number } {
  const fields = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ').pop()!.split(' ');
  return { nice: Number(fields[16]), policy: Number(fields[38]) };
}
const SCHED_OTHER = 0;
const SCHED_IDLE = 5;
const linux = process.platform === 'linux';

const commands = new ExecFileCommandRunner();
/** Every pool a test makes is closed after the file, even when its test fails half-way. */
const opened: Pbkdf2Pool[] = [];
const makePool = (options: Partial<Pbkdf2PoolOptions> = {}) => {
  const made = new Pbkdf2Pool({ commands, ...options });
  opened.push(made);
  return made;
};
afterAll(() => Promise.all(opened.map((p) => p.close())));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pool's own logger, to read what it says. */
function loggerOf(pool: Pbkdf2Pool): { log: (m: unknown) => void; warn: (m: unknown) => void } {
  return (pool as unknown as { logger: { log: (m: unknown) => void; warn: (m: unknown) => void } }).logger;
}

/** Answers every command with `answer` and records what was asked. */
class FakeCommandRunner extends CommandRunner {
  readonly calls: { command: string; args: string[]; options: CommandOptions }[] = [];
  constructor(private readonly answer: Partial<CommandResult>) {
    super();
  }
  run(command: string, args: string[], options: CommandOptions): Promise<CommandResult> {
    this.calls.push({ command, args, options });
    return Promise.resolve({
      command,
      args,
      exitCode: 0,
      signal: null,
      stdout: '',
      stderr: '',
      timedOut: false,
      durationMs: 1,
      ...this.answer,
    });
  }
}

describe('Pbkdf2Pool', () => {
  const pool = makePool({ size: 2 });
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
    const fresh = makePool({ size: 2 });
    expect(fresh.threads()).toEqual([]);
    await fresh.warm();
    const threads = fresh.threads();
    expect(threads).toHaveLength(2);
    if (linux) {
      for (const t of threads) {
        expect(t).toMatchObject({ nice: 19, policy: 'SCHED_IDLE' });
        // What the pool reports is what the kernel shows from outside the thread.
        expect(kernelView(t.tid!)).toEqual({ nice: 19, policy: SCHED_IDLE });
      }
    }
    await fresh.close();
    expect(fresh.threads()).toEqual([]);
  });

  it('stays at nice 19 and still hashes when chrt cannot be run, warning once', async () => {
    const noChrt = makePool({ size: 2, chrt: '/nonexistent/chrt' });
    const warn = jest.spyOn(loggerOf(noChrt), 'warn').mockImplementation();
    await noChrt.warm();
    if (linux) {
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toEqual({
        event: 'password_hashing_without_sched_idle',
        nice: 19,
        policy: 'SCHED_OTHER',
        problem: expect.stringMatching(/^\/nonexistent\/chrt --idle -p 0 \d+: ENOENT/),
      });
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

  (linux ? it : it.skip)(
    'runs chrt through the CommandRunner with the thread id, a timeout and an output cap',
    async () => {
      const refused = new FakeCommandRunner({
        exitCode: 1,
        stderr: 'chrt: failed to set pid 0 policy: Operation not permitted\n',
      });
      const fenced = new Pbkdf2Pool({ size: 1, commands: refused, chrt: '/usr/bin/chrt' });
      const warn = jest.spyOn(loggerOf(fenced), 'warn').mockImplementation();
      await fenced.warm();
      const [thread] = fenced.threads();
      expect(refused.calls).toEqual([
        {
          command: '/usr/bin/chrt',
          args: ['--idle', '-p', '0', String(thread.tid)],
          options: { timeoutMs: 5000, maxOutputBytes: 4096 },
        },
      ]);
      expect(thread).toMatchObject({ nice: 19, policy: 'SCHED_OTHER' });
      expect(warn.mock.calls[0][0]).toMatchObject({
        problem: `/usr/bin/chrt --idle -p 0 ${thread.tid}: exit 1: chrt: failed to set pid 0 policy: Operation not permitted`,
      });
      await fenced.close();
    },
  );

  it('leaves one core to the event loop by default', () => {
    expect(defaultHashThreads(1)).toBe(1);
    expect(defaultHashThreads(2)).toBe(1);
    expect(defaultHashThreads(8)).toBe(7);
    expect(makePool().threadCount).toBe(defaultHashThreads());
    expect(() => makePool({ size: 0 })).toThrow(/integer >= 1/);
  });

  it('starts threads as work needs them and never more than its size', async () => {
    const sized = makePool({ size: 3 });
    expect((await sized.derive('pw', 'salt', 1000, 32, 'sha256')).length).toBe(32);
    expect(sized.threads()).toHaveLength(1);
    const inFlight = Array.from({ length: 6 }, (_, i) =>
      sized.derive(`pw${i}`, 'salt', 50_000, 32, 'sha256'),
    );
    const keys = await Promise.all(inFlight);
    keys.forEach((key, i) =>
      expect(key.equals(pbkdf2Sync(`pw${i}`, 'salt', 50_000, 32, 'sha256'))).toBe(true),
    );
    // The burst asked for two more threads; a thread takes a few hundred ms to start (more under
    // ts-node on a busy machine), so the first may have finished the work before they are up.
    for (let i = 0; i < 200 && sized.threads().length < 3; i++) await sleep(25);
    expect(sized.threads()).toHaveLength(3);
    await Promise.all(
      Array.from({ length: 9 }, (_, i) => sized.derive(`again${i}`, 'salt', 1000, 32, 'sha256')),
    );
    expect(sized.threads()).toHaveLength(3);
    await sized.close();
  });

  it('rejects a bad digest without losing the thread', async () => {
    await expect(pool.derive('pw', 'salt', 1000, 32, 'no-such-digest')).rejects.toThrow(/digest/i);
    expect((await pool.derive('pw', 'salt', 1000, 32, 'sha256')).length).toBe(32);
  });

  it('fails queued work when closed, and work asked for afterwards', async () => {
    const other = makePool({ size: 1 });
    const running = other.derive('pw', 'salt', 200_000, 32, 'sha256').catch((err: Error) => err);
    const queued = other.derive('pw', 'salt', 1000, 32, 'sha256').catch((err: Error) => err);
    await other.close();
    expect(String(await queued)).toMatch(/closed/);
    expect(String(await running)).toMatch(/closed/);
    await expect(other.derive('pw', 'salt', 1000, 32, 'sha256')).rejects.toThrow(/closed/);
    expect(other.threads()).toEqual([]);
  });

  it('as a provider: warms and says so at bootstrap, stops at shutdown', async () => {
    const provided = makePool({ size: 2 });
    const log = jest.spyOn(loggerOf(provided), 'log').mockImplementation();
    await provided.onApplicationBootstrap();
    expect(provided.threads()).toHaveLength(2);
    expect(log).toHaveBeenCalledWith({
      event: 'password_hashing_ready',
      threads: 2,
      policy: linux ? 'SCHED_IDLE' : 'unknown',
      nice: linux ? 19 : null,
    });
    await provided.onApplicationShutdown();
    expect(provided.threads()).toEqual([]);
  });

  it('reports its queue and threads to the metrics registry', async () => {
    const metrics = new MetricsService();
    const measured = makePool({ size: 1, metrics });
    await measured.warm();
    const burst = [1, 2, 3].map((i) => measured.derive(`pw${i}`, 'salt', 100_000, 32, 'sha256'));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^live_password_hashing_queued 2$/m);
    expect(text).toMatch(/^live_password_hashing_threads\{state="busy"\} 1$/m);
    expect(text).toMatch(/^live_password_hashing_threads\{state="idle"\} 0$/m);
    await Promise.all(burst);
    // Every derivation asked for is counted (the login throttle's tests read this).
    expect(measured.derivations).toBe(3);
    expect(await metrics.registry.metrics()).toMatch(/^live_password_hashes_total 3$/m);
    await measured.close();
  });
});

describe('parseThreadStat', () => {
  it('reads nice and policy after a command name with spaces and parentheses', () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i));
    rest[16] = '19';
    rest[38] = '5';
    expect(parseThreadStat(`1234 (odd) name) ${rest.join(' ')}`)).toEqual({ nice: 19, policy: 'SCHED_IDLE' });
    rest[38] = '7';
    expect(parseThreadStat(`1 (x) ${rest.join(' ')}`).policy).toBe('policy 7');
  });
});
