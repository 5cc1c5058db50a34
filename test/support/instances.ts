import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryPoint, ROOT } from './entry-point';

/** A real live process (src/main.ts through ts-node), as an operator would run several. */
export interface LiveInstance {
  name: string;
  port: number;
  baseUrl: string;
  wsUrl: string;
  process: ChildProcess;
  /** Every line it printed so far (stdout and stderr). */
  lines: string[];
  /** The events it logged (its JSON log lines that have an `event` field), with `receivedAt` (ms). */
  events(): Record<string, unknown>[];
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** The lowest port the kernel hands out to outgoing connections (Linux: ip_local_port_range). */
function ephemeralLow(): number {
  try {
    return (
      Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768
    );
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

/**
 * A port free now and kept out of the kernel's ephemeral range: a test often learns the port first
 * and binds it seconds later (Pebble is told where to validate before live starts), and a port from
 * listen(0) could meanwhile be taken by any outgoing connection (seen in CI: EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow());
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}

async function waitForHealth(url: string, proc: ChildProcess, lines: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`instance exited (${proc.exitCode}):\n${lines.join('\n')}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200 || res.status === 503) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`instance at ${url} did not start within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`);
}

function exited(proc: ChildProcess, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      done();
    }, timeoutMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** Starts one live process on a free port with `env` on top of a clean test environment. */
export async function startInstance(name: string, env: Record<string, string>): Promise<LiveInstance> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `live-${name}-`));
  const proc = spawn(process.execPath, entryPoint('main'), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NO_COLOR: '1',
      TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      PASSWORD_ITERATIONS: '1000',
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'json',
      // One cluster, one key (README: sessions are signed with it and must verify on every instance).
      SECRET_KEY: 'cluster-test-secret-key-shared-0123456789',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const receivedAt: number[] = [];
  // Whole lines only: a read may end inside a line, whose rest comes with the next chunk.
  const collector = () => {
    let partial = '';
    return (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts.filter(Boolean)) {
        lines.push(line);
        receivedAt.push(Date.now());
      }
    };
  };
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', collector());
  proc.stderr?.on('data', collector());
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(baseUrl, proc, lines, 60_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true });
  return {
    name,
    port,
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}`,
    process: proc,
    lines,
    events() {
      const out: Record<string, unknown>[] = [];
      for (const [i, line] of lines.entries()) {
        if (!line.startsWith('{')) continue; // e.g. "live: failed to start: …" on stderr
        try {
          const fields = JSON.parse(line) as Record<string, unknown>;
          if (typeof fields.event === 'string') out.push({ ...fields, receivedAt: receivedAt[i] });
        } catch {
          /* not a log line */
        }
      }
      return out;
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc, 10_000);
      cleanup();
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited(proc, 5_000);
      cleanup();
    },
  };
}

/** A private redis-server this suite can stop and start (fault tests). */
export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const self: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      proc = spawn(bin, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        if (await portOpen(port)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`redis-server did not listen on ${port}`);
    },
    async stop() {
      if (!proc) return;
      proc.kill('SIGKILL');
      await exited(proc, 5000);
      proc = null;
    },
  };
  await self.start();
  return self;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
