import { performance } from 'node:perf_hooks';
import { latencyStats } from './load';

function cookieValue(setCookie: string[], name: string): string | undefined {
  for (const c of setCookie) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return undefined;
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
