import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, createServer as createTcpServer, Server as TcpServer, Socket } from 'node:net';
import request from 'supertest';
import { webhookSignature } from '../src/chat/webhooks/chat-webhook';
import { startApp, TestApp } from './support/app';
import { createUser, login } from './support/users';
import { eventually, openWs } from './support/ws';

const SECRET = 'webhook-secret-for-tests-0123';

interface Received {
  body: string;
  timestamp: string;
  signature: string;
  events: { type: string; room: string; text?: string; name: string; user: number | null; id?: number }[];
}

/** A receiver answering each POST with the next status of `script` (then 200), keeping what it got. */
async function receiver(): Promise<{
  server: Server;
  url: string;
  got: Received[];
  script: number[];
  attempts: number[];
}> {
  const got: Received[] = [];
  const script: number[] = [];
  const attempts: number[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      attempts.push(Date.now());
      const status = script.shift() ?? 200;
      if (status === 200)
        got.push({
          body,
          timestamp: String(req.headers['x-live-timestamp']),
          signature: String(req.headers['x-live-signature']),
          events: (JSON.parse(body) as { events: Received['events'] }).events,
        });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    script,
    attempts,
  };
}

describe('outgoing chat events (CHAT_WEBHOOK_URL)', () => {
  let t: TestApp;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver();
    t = await startApp({
      CHAT_WEBHOOK_URL: hook.url,
      CHAT_WEBHOOK_SECRET: SECRET,
      CHAT_WEBHOOK_BATCH_MS: '50',
    });
    await createUser(t, { username: 'ada', password: 'ada-pass', firstName: 'Ada' });
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((r) => hook.server.close(r));
  });

  const all = () => hook.got.flatMap((g) => g.events);

  it('posts joins, messages (socket and publish API) and leaves, batched and signed', async () => {
    const ws = await openWs(`ws://127.0.0.1:${t.port}/chat/hooked/`);
    await ws.next();
    ws.send('hello hook');
    ws.send('hello again');
    const session = await login(t, 'ada', 'ada-pass');
    await request(t.baseUrl)
      .post('/chat/rooms/hooked/messages')
      .set('Cookie', session.cookie)
      .set('X-CSRFToken', session.csrf)
      .send({ text: 'from the API' })
      .expect(201);
    await ws.close();
    await eventually(() => all().some((e) => e.type === 'leave'), 5000);
    expect(all().map((e) => [e.type, e.room, e.text ?? e.name])).toEqual([
      ['join', 'hooked', 'Anonymous troll'],
      ['message', 'hooked', 'hello hook'],
      ['message', 'hooked', 'hello again'],
      ['message', 'hooked', 'from the API'],
      ['leave', 'hooked', 'Anonymous troll'],
    ]);
    expect(all().find((e) => e.text === 'from the API')).toMatchObject({
      name: 'Ada',
      id: expect.any(Number),
    });
    // Batched: the two messages sent together went out in one POST.
    const together = hook.got.find((g) => g.events.some((e) => e.text === 'hello hook'));
    expect(together?.events.map((e) => e.text)).toContain('hello again');
    for (const g of hook.got) {
      expect(g.signature).toBe(webhookSignature(SECRET, g.timestamp, g.body));
      expect(Math.abs(Number(g.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    }
    // The signature covers the body: a changed body no longer matches.
    expect(webhookSignature(SECRET, hook.got[0].timestamp, hook.got[0].body + ' ')).not.toBe(
      hook.got[0].signature,
    );
  });

  it('retries a failing receiver with backoff and loses nothing', async () => {
    const before = all().length;
    hook.script.push(500, 503);
    const ws = await openWs(`ws://127.0.0.1:${t.port}/chat/retried/`);
    await ws.next();
    for (const text of ['one', 'two', 'three']) ws.send(text);
    await eventually(
      () => all().filter((e) => e.room === 'retried' && e.type === 'message').length === 3,
      10_000,
    );
    const texts = all()
      .slice(before)
      .filter((e) => e.type === 'message')
      .map((e) => e.text);
    expect(texts).toEqual(['one', 'two', 'three']);
    // Two refusals, then the delivery: at least 1 s then 2 s apart (the backoff), not hammered.
    const last3 = hook.attempts.slice(-3);
    expect(last3[1] - last3[0]).toBeGreaterThanOrEqual(900);
    expect(last3[2] - last3[1]).toBeGreaterThanOrEqual(1900);
    await ws.close();
  }, 20_000);
});

describe('a receiver that never answers does not slow the chat', () => {
  let t: TestApp;
  let blackhole: TcpServer;
  const held: Socket[] = [];

  beforeAll(async () => {
    // Accepts connections and never answers a byte.
    blackhole = createTcpServer((s) => void held.push(s));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as AddressInfo).port;
    t = await startApp({
      CHAT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
      CHAT_WEBHOOK_SECRET: SECRET,
      CHAT_WEBHOOK_BATCH_MS: '10',
      CHAT_WEBHOOK_QUEUE_MAX: '100',
      CHAT_RATE: '100000',
      CHAT_BURST: '100000',
    });
  });
  afterAll(async () => {
    await t?.close();
    for (const s of held) s.destroy();
    await new Promise((r) => blackhole.close(r));
  });

  it('delivers 300 messages to the room promptly while the webhook hangs, keeping at most the queue bound', async () => {
    const a = await openWs(`ws://127.0.0.1:${t.port}/chat/hung/`);
    const b = await openWs(`ws://127.0.0.1:${t.port}/chat/hung/`);
    await a.next();
    await b.next();
    const started = Date.now();
    for (let i = 0; i < 300; i++) a.send(`m${i}`);
    for (;;) {
      const frame = await b.next(5000);
      if (frame === '<Anonymous troll> m299') break;
    }
    expect(Date.now() - started).toBeLessThan(5000);
    const metrics = await request(t.baseUrl).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/live_chat_webhook_events_total\{outcome="dropped"\} [1-9]\d*/);
    await a.close();
    await b.close();
  }, 20_000);
});
