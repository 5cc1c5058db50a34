import WebSocket from 'ws';

export interface WsClient {
  ws: WebSocket;
  /** The next text frame (waits up to `timeoutMs`). */
  next(timeoutMs?: number): Promise<string>;
  /** The next frame parsed as JSON. */
  nextJson<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /** Frames received and not yet taken by next(). */
  buffered(): string[];
  send(text: string): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** A real `ws` client that queues every frame it receives. */
export function openWs(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    const queue: string[] = [];
    const waiters: ((s: string) => void)[] = [];
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      const w = waiters.shift();
      if (w) w(text);
      else queue.push(text);
    });
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString() })),
    );
    const client: WsClient = {
      ws,
      closed,
      next(timeoutMs = 5000) {
        const queued = queue.shift();
        if (queued !== undefined) return Promise.resolve(queued);
        return new Promise((res, rej) => {
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(done), 1);
            rej(new Error(`no frame within ${timeoutMs} ms`));
          }, timeoutMs);
          const done = (s: string) => {
            clearTimeout(timer);
            res(s);
          };
          waiters.push(done);
        });
      },
      async nextJson<T>(timeoutMs?: number) {
        return JSON.parse(await client.next(timeoutMs)) as T;
      },
      buffered: () => queue.splice(0),
      send: (text) => ws.send(text),
      async close() {
        if (ws.readyState === WebSocket.CLOSED) return;
        ws.close();
        await closed;
      },
    };
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode, body })),
      );
    });
    ws.once('error', reject);
  });
}

/** Expects the upgrade to be refused; returns the HTTP status and JSON body. */
export async function refusedUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ statusCode: number; body: string }> {
  try {
    const c = await openWs(url, { headers });
    await c.close();
  } catch (err) {
    const e = err as { statusCode?: number; body?: string };
    if (e.statusCode) return { statusCode: e.statusCode, body: e.body ?? '' };
    throw err;
  }
  throw new Error(`upgrade to ${url} was accepted`);
}

/** Waits until `predicate` holds, polling. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}
