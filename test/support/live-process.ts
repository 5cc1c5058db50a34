import { ChildProcess, spawn } from 'node:child_process';
import { entryPoint, ROOT } from './entry-point';
import { freePort } from './instances';

/** A live process (compiled build) whose stdout and stderr are kept apart, line by line. */
export interface Live {
  baseUrl: string;
  wsUrl: string;
  proc: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the signal that ended it, or `exit <code>`. */
  exited: Promise<string>;
}

export async function startLive(dataDir: string, env: Record<string, string>): Promise<Live> {
  const port = await freePort();
  const proc = spawn(process.execPath, entryPoint('main'), {
    cwd: ROOT,
    // No LOG_LEVEL: the default level is under test.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      into.push(...parts.filter(Boolean));
    };
  };
  const live: Live = {
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    proc,
    stdout: [],
    stderr: [],
    exited: new Promise((resolve) => proc.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`))),
  };
  proc.stdout!.setEncoding('utf8').on('data', collect(live.stdout));
  proc.stderr!.setEncoding('utf8').on('data', collect(live.stderr));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null)
      throw new Error(`live exited:\n${[...live.stdout, ...live.stderr].join('\n')}`);
    const up = await fetch(`${live.baseUrl}/health`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status === 200 || r.status === 503,
      () => false,
    );
    if (up) return live;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`live did not start:\n${[...live.stdout, ...live.stderr].join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function stop(live: Live): Promise<string> {
  live.proc.kill('SIGTERM');
  const timer = setTimeout(() => live.proc.kill('SIGKILL'), 15_000);
  const how = await live.exited;
  clearTimeout(timer);
  return how;
}
