import { ExecFileCommandRunner } from './command-runner';

describe('ExecFileCommandRunner', () => {
  const runner = new ExecFileCommandRunner();

  it('passes arguments without a shell', async () => {
    const r = await runner.run('/bin/echo', ['a;b', '$(id)', '`x`'], { timeoutMs: 5000 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('a;b $(id) `x`\n');
  });

  it('reports the exit code and stderr', async () => {
    const r = await runner.run('/bin/sh', ['-c', 'echo oops >&2; exit 3'], { timeoutMs: 5000 });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe('oops\n');
  });

  it('kills a process that runs past its timeout', async () => {
    const r = await runner.run('/bin/sleep', ['10'], { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('keeps only the tail of a large output', async () => {
    const r = await runner.run('/usr/bin/seq', ['1', '100000'], { timeoutMs: 5000, maxOutputBytes: 100 });
    expect(r.stdout.length).toBeLessThanOrEqual(100);
    expect(r.stdout.endsWith('100000\n')).toBe(true);
  });

  it('reports a program that does not exist', async () => {
    const r = await runner.run('/nonexistent/prog', [], { timeoutMs: 5000 });
    expect(r.exitCode).toBeNull();
    expect(r.spawnError).toMatch(/ENOENT/);
  });

  it('feeds stdin', async () => {
    const r = await runner.run('/bin/cat', [], { timeoutMs: 5000, input: 'hello' });
    expect(r.stdout).toBe('hello');
  });
});
