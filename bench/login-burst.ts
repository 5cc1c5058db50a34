import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { latencyStats } from './load';

function cookieValue(setCookie: string[], name: string): string | undefined {
  for (const c of setCookie) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return undefined;
}

/** One login through the real endpoints: the Cookie header value of its session (for logged-in sockets). */
export async function sessionCookie(httpUrl: string, username: string, password: string): Promise<string> {
  const csrfRes = await fetch(`${httpUrl}/auth/csrf`);
  const csrf = cookieValue(csrfRes.headers.getSetCookie(), 'csrftoken');
  if (!csrf) throw new Error(`GET ${httpUrl}/auth/csrf set no csrftoken cookie (HTTP ${csrfRes.status})`);
  const res = await fetch(`${httpUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `csrftoken=${csrf}`, 'x-csrftoken': csrf },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(120_000),
  });
  const session = cookieValue(res.headers.getSetCookie(), 'sessionid');
  if (res.status !== 200 || !session) throw new Error(`bench login failed: HTTP ${res.status}`);
  return `sessionid=${session}`;
}

/**
 * `count` logins fired at once through the real endpoints (GET /auth/csrf, then POST /auth/login),
 * each paying PBKDF2 at the server's configured iterations.
 */
export async function loginBurst(
  httpUrl: string,
  username: string,
  password: string,
  count: number,
): Promise<Record<string, unknown>> {
  const csrfRes = await fetch(`${httpUrl}/auth/csrf`);
  const csrf = cookieValue(csrfRes.headers.getSetCookie(), 'csrftoken');
  if (!csrf) throw new Error(`GET ${httpUrl}/auth/csrf set no csrftoken cookie (HTTP ${csrfRes.status})`);
  const t0 = performance.now();
  const times = new Float64Array(count);
  const statuses: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const start = performance.now();
      let status = 'error';
      try {
        const res = await fetch(`${httpUrl}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: `csrftoken=${csrf}`, 'x-csrftoken': csrf },
          body: JSON.stringify({ username, password }),
          signal: AbortSignal.timeout(120_000),
        });
        await res.arrayBuffer();
        status = String(res.status);
      } catch (err) {
        status = (err as Error).name;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      times[i] = performance.now() - start;
    }),
  );
  return {
    logins: count,
    statuses,
    burstSeconds: Math.round(performance.now() - t0) / 1000,
    loginMs: latencyStats(times),
  };
}

/**
 * The same burst fired from a child process, started ahead and fired on demand: the load generator
 * that timestamps chat deliveries must not also be parsing 50 HTTP exchanges, or its own event loop
 * shows up as server latency.
 */
export async function startLoginBurstProcess(
  httpUrl: string,
  username: string,
  password: string,
  count: number,
): Promise<{ fire: () => Promise<Record<string, unknown>>; stop: () => void }> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', __filename, httpUrl, username, password, String(count)],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const lines = createInterface({ input: child.stdout });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onLine = (line: string) => {
        lines.off('line', onLine);
        child.off('exit', onExit);
        try {
          resolve(JSON.parse(line) as Record<string, unknown>);
        } catch {
          reject(new Error(`login burst process printed: ${line.slice(0, 200)}`));
        }
      };
      const onExit = (code: number | null) => reject(new Error(`login burst process exited with ${code}`));
      lines.on('line', onLine);
      child.once('exit', onExit);
    });
  const ready = await next();
  if (ready.error) throw new Error(`login burst process: ${String(ready.error)}`);
  return {
    fire: () => {
      const result = next();
      child.stdin.write('go\n');
      return result;
    },
    stop: () => void child.kill(),
  };
}

if (require.main === module) {
  // Child: fetch what the burst needs, say ready, fire on "go", print the result, exit.
  const [httpUrl, username, password, count] = process.argv.slice(2);
  void (async () => {
    const warm = await fetch(`${httpUrl}/auth/csrf`).catch((err: Error) => err);
    if (warm instanceof Error) {
      console.log(JSON.stringify({ error: warm.message }));
      process.exit(1);
    }
    console.log(JSON.stringify({ ready: true }));
    createInterface({ input: process.stdin }).once('line', () => {
      loginBurst(httpUrl, username, password, Number(count))
        .then((result) => console.log(JSON.stringify(result)))
        .catch((err: Error) => console.log(JSON.stringify({ error: err.message })))
        .finally(() => process.exit(0));
    });
  })();
}
