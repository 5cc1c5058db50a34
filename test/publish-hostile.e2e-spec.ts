import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';
import { openWs, WsClient } from './support/ws';

/**
 * Hostile input to the publish API (issue 19), in test/hostile-input.e2e-spec.ts's manner: every
 * body and path below, sent with a chat:publish token and with a session, is refused with a timely
 * 4xx and the JSON error body (never a 5xx), and nothing reaches the room's socket.
 */

type Identity = 'token' | 'session';
const IDENTITIES: Identity[] = ['token', 'session'];
const ANSWER_LIMIT_MS = 5000;
/** Small, so that "too big" is cheap to send; the size check is the same at any value. */
const MAX_MESSAGE_BYTES = 1024;
const ROOM = 'hostile-pub';
const PUBLISH = `/chat/rooms/${ROOM}/messages`;
const BROADCAST = '/chat/broadcast';
const JSON_TYPE = { 'content-type': 'application/json' };

interface Case {
  name: string;
  method?: string;
  path: string;
  /** An object is sent as JSON; a string or Buffer as is (with JSON's content type unless told). */
  body?: string | Buffer | object;
  headers?: Record<string, string | null>;
  as?: Identity[];
  status: number;
  message?: string | RegExp;
}

const NAME = "name must be 1 to 150 printable characters (a bot's display name)";
const ROOMS = 'rooms must be a list of 1 to 100 distinct room names';
const ROOMS_IN = new RegExp(`(^| \\| )${ROOMS}( \\| |$)`);
const ROOM_NAME = 'each of rooms must be a room name: 1 to 100 letters, digits, _ or -';
const BAD_ROOM = 'Room name must be 1 to 100 letters, digits, _ or -';

const bodyCases: Case[] = [
  { name: 'no body', path: PUBLISH, status: 400, message: 'text must be a string' },
  { name: 'empty object', path: PUBLISH, body: {}, status: 400, message: 'text must be a string' },
  ...[5, null, true, ['a'], { a: 1 }].map((text): Case => ({
    name: `text ${JSON.stringify(text)}`,
    path: PUBLISH,
    body: { text },
    status: 400,
    message: 'text must be a string',
  })),
  {
    name: 'text over CHAT_MAX_MESSAGE_BYTES',
    path: PUBLISH,
    body: { text: 'x'.repeat(MAX_MESSAGE_BYTES + 1) },
    status: 400,
    message: `text is ${MAX_MESSAGE_BYTES + 1} bytes of UTF-8; a chat message may have at most ${MAX_MESSAGE_BYTES} (CHAT_MAX_MESSAGE_BYTES)`,
  },
  {
    name: 'text over the limit in bytes, not characters',
    path: PUBLISH,
    body: { text: 'é'.repeat(MAX_MESSAGE_BYTES / 2 + 1) },
    status: 400,
    message: /CHAT_MAX_MESSAGE_BYTES/,
  },
  { name: 'huge text (900 kB)', path: PUBLISH, body: { text: 'x'.repeat(900_000) }, status: 400 },
  {
    name: 'text over the 1 MB body limit',
    path: PUBLISH,
    body: { text: 'x'.repeat(1_100_000) },
    status: 413,
  },
  { name: 'NUL in text', path: PUBLISH, body: { text: 'a\u0000b' }, status: 400, message: /NUL/ },
  { name: 'NUL in name', path: PUBLISH, body: { text: 'a', name: '\u0000' }, status: 400, message: /NUL/ },
  {
    name: 'lone surrogate in text',
    path: PUBLISH,
    body: '{"text":"a\\ud800b"}',
    status: 400,
    message: 'text must be valid Unicode (it has a lone surrogate)',
  },
  {
    name: 'unknown field',
    path: PUBLISH,
    body: { text: 'a', room: 'other' },
    status: 400,
    message: /should not exist/,
  },
  {
    name: 'bot flag from outside',
    path: PUBLISH,
    body: { text: 'a', bot: true },
    status: 400,
    message: /should not exist/,
  },
  { name: '__proto__ key', path: PUBLISH, body: '{"text":"a","__proto__":{"isStaff":true}}', status: 400 },
  ...[5, null, ['bot'], { n: 1 }].map((name): Case => ({
    name: `name ${JSON.stringify(name)}`,
    path: PUBLISH,
    body: { text: 'a', name },
    status: 400,
    message: NAME,
  })),
  // A bot name is checked before who may use one: a malformed one is a 400 for anyone.
  ...['', '   ', 'tab\tbot', 'bell\u0007', 'c1\u0085', 'b'.repeat(151)].map((name): Case => ({
    name: `bot name ${JSON.stringify(name.slice(0, 20))}`,
    path: PUBLISH,
    body: { text: 'a', name },
    status: 400,
    message: NAME,
  })),
  {
    name: 'a bot name from a non-moderator',
    path: PUBLISH,
    body: { text: 'a', name: 'Admin' },
    status: 403,
    message: 'Only staff and the room’s moderators may post under a bot name',
  },
  {
    name: 'malformed JSON',
    path: PUBLISH,
    body: '{"text": "a"',
    status: 400,
    message: 'Malformed JSON in request body',
  },
  { name: 'a JSON array body', path: PUBLISH, body: '["text"]', status: 400 },
  { name: 'a JSON string body', path: PUBLISH, body: '"text"', status: 400 },
  {
    name: 'text/plain body',
    path: PUBLISH,
    body: 'hello',
    headers: { 'content-type': 'text/plain' },
    status: 400,
    message: 'text must be a string',
  },
  {
    name: 'deep JSON',
    path: PUBLISH,
    body: `{"text":"a","x":${'['.repeat(40)}${']'.repeat(40)}}`,
    status: 400,
  },
  // Room names no socket could use.
  ...['a%20b', 'a.b', 'x'.repeat(101), '%F0%9F%98%80', 'a%2Fb', '%C0%AF', '%00', 'a%E2%80%8Bb'].map(
    (room): Case => ({
      name: `room ${room.slice(0, 30)}`,
      path: `/chat/rooms/${room}/messages`,
      body: { text: 'a' },
      status: 400,
    }),
  ),
  {
    name: 'room name too long',
    path: `/chat/rooms/${'r'.repeat(101)}/messages`,
    body: { text: 'a' },
    status: 400,
    message: BAD_ROOM,
  },
  // Broadcasts.
  // Not a list: the per-room rules fire too, beside the list's own message.
  { name: 'broadcast without rooms', path: BROADCAST, body: { text: 'a' }, status: 400, message: ROOMS_IN },
  ...['hostile-pub', null, {}, [], Array.from({ length: 101 }, (_, i) => `r${i}`), ['x', 'x']].map(
    (rooms): Case => ({
      name: `broadcast rooms ${JSON.stringify(rooms).slice(0, 40)}`,
      path: BROADCAST,
      body: { rooms, text: 'a' },
      status: 400,
      message: ROOMS_IN,
    }),
  ),
  ...[[5], [null], ['a b'], [''], ['x'.repeat(101)], [['nested']], ['ok', '../x']].map((rooms): Case => ({
    name: `broadcast rooms ${JSON.stringify(rooms).slice(0, 40)}`,
    path: BROADCAST,
    body: { rooms, text: 'a' },
    status: 400,
    message: ROOM_NAME,
  })),
  {
    name: 'broadcast with a NUL text',
    path: BROADCAST,
    body: { rooms: [ROOM], text: '\u0000' },
    status: 400,
    message: /NUL/,
  },
  {
    name: 'broadcast text too big',
    path: BROADCAST,
    body: { rooms: [ROOM], text: 'x'.repeat(MAX_MESSAGE_BYTES + 1) },
    status: 400,
    message: /CHAT_MAX_MESSAGE_BYTES/,
  },
  {
    name: 'broadcast with an unknown field',
    path: BROADCAST,
    body: { rooms: [ROOM], text: 'a', everyone: true },
    status: 400,
    message: /should not exist/,
  },
  {
    name: 'broadcast into a room joe is muted in',
    path: BROADCAST,
    body: { rooms: [ROOM, 'hostile-muted'], text: 'a' },
    status: 403,
    message: 'hostile-muted: You are muted in this room: test',
  },
  {
    name: 'publish into a room joe is muted in',
    path: '/chat/rooms/hostile-muted/messages',
    body: { text: 'a' },
    status: 403,
    message: 'You are muted in this room: test',
  },
  // Wrong methods and paths around the endpoints.
  { name: 'PUT on publish', method: 'PUT', path: PUBLISH, body: { text: 'a' }, status: 404 },
  { name: 'DELETE on broadcast', method: 'DELETE', path: BROADCAST, body: { text: 'a' }, status: 404 },
];

/** Who may not publish at all, whatever the body. */
const credentialCases: Case[] = [
  {
    name: 'a token without chat:publish',
    path: PUBLISH,
    body: { text: 'a' },
    headers: { authorization: 'Token {readToken}' },
    as: ['token'],
    status: 403,
    message: 'This token lacks the "chat:publish" scope',
  },
  {
    name: 'broadcast with a token without chat:publish',
    path: BROADCAST,
    body: { rooms: [ROOM], text: 'a' },
    headers: { authorization: 'Token {readToken}' },
    as: ['token'],
    status: 403,
  },
  {
    name: 'an unknown token',
    path: PUBLISH,
    body: { text: 'a' },
    headers: { authorization: `Token live_${'Z'.repeat(43)}` },
    as: ['token'],
    status: 401,
    message: 'Invalid token.',
  },
  {
    name: 'a malformed Authorization header',
    path: PUBLISH,
    body: { text: 'a' },
    headers: { authorization: 'Token a b c' },
    as: ['token'],
    status: 401,
  },
  {
    name: 'anonymous',
    path: PUBLISH,
    body: { text: 'a' },
    headers: { authorization: null, cookie: null, 'x-csrftoken': null },
    as: ['session'],
    status: 401,
  },
  {
    name: 'a session without its CSRF token',
    path: PUBLISH,
    body: { text: 'a' },
    headers: { 'x-csrftoken': null },
    as: ['session'],
    status: 403,
    message: /CSRF/,
  },
  {
    name: 'a session with a wrong CSRF token',
    path: BROADCAST,
    body: { rooms: [ROOM], text: 'a' },
    headers: { 'x-csrftoken': 'x'.repeat(32) },
    as: ['session'],
    status: 403,
    message: /CSRF/,
  },
];

const CORPUS = [...bodyCases, ...credentialCases];

interface Answer {
  status: number;
  contentType: string;
  body: string;
  ms: number;
}

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  const started = Date.now();
  if (body) headers = { ...headers, 'content-length': String(body.length) };
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
          ms: Date.now() - started,
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(ANSWER_LIMIT_MS, () => req.destroy(new Error(`no answer within ${ANSWER_LIMIT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** What is wrong with a refusal in general (not 4xx, slow, no JSON error body), or null. */
function problem(a: Answer): string | null {
  if (a.status < 400 || a.status >= 500) return `answered ${a.status}`;
  if (a.ms > ANSWER_LIMIT_MS) return `took ${a.ms} ms`;
  if (!a.contentType.startsWith('application/json')) return `error ${a.status} as ${a.contentType}`;
  try {
    const body = JSON.parse(a.body) as { statusCode?: unknown; error?: unknown; message?: unknown };
    const messageOk =
      typeof body.message === 'string' ||
      (Array.isArray(body.message) && body.message.every((m) => typeof m === 'string'));
    if (body.statusCode !== a.status || typeof body.error !== 'string' || !messageOk)
      return `error body is not {statusCode, error, message}: ${a.body.slice(0, 200)}`;
  } catch {
    return `error body is not JSON: ${a.body.slice(0, 200)}`;
  }
  return null;
}

function messageOf(a: Answer): string {
  try {
    const m = (JSON.parse(a.body) as { message?: unknown }).message;
    return Array.isArray(m) ? m.join(' | ') : String(m);
  } catch {
    return a.body;
  }
}

describe.each(databaseVariants())('hostile input to the publish API on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let joe: LoginSession;
  let publishToken: string;
  let readToken: string;
  const watchers: WsClient[] = [];

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({
      ...db.env,
      CHAT_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
      API_TOKEN_RATE: '100000',
      API_TOKEN_FAILURES_PER_ADDRESS: '100000',
    });
    const joeId = (await createUser(t, { username: 'joe', password: 'pw', firstName: 'Joe' })).id;
    await createUser(t, { username: 'boss', password: 'pw', isStaff: true });
    joe = await login(t, 'joe', 'pw');
    const boss = await login(t, 'boss', 'pw');
    const token = async (scopes: string[]) =>
      (
        await request(t.baseUrl)
          .post('/auth/tokens')
          .set('Cookie', joe.cookie)
          .set('X-CSRFToken', joe.csrf)
          .send({ name: scopes.join(','), scopes })
          .expect(201)
      ).body.key as string;
    publishToken = await token(['chat:publish']);
    readToken = await token(['chat:read']);
    await request(t.baseUrl)
      .post('/chat/rooms/hostile-muted/moderation/mute')
      .set('Cookie', boss.cookie)
      .set('X-CSRFToken', boss.csrf)
      .send({ user: joeId, reason: 'test' })
      .expect(200);
    for (const room of [ROOM, 'hostile-muted']) {
      const c = await openWs(`ws://127.0.0.1:${t.port}/chat/${room}/`);
      expect(await c.next()).toBe('Bienvenue Anonymous troll !');
      watchers.push(c);
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.all(watchers.map((c) => c.close()));
    await t?.close();
    await teardownDb?.();
  });

  function headersFor(who: Identity, c: Case): Record<string, string> {
    const base: Record<string, string | null> =
      who === 'token'
        ? { authorization: `Token ${publishToken}` }
        : { cookie: joe.cookie, 'x-csrftoken': joe.csrf };
    const merged: Record<string, string | null> = { ...JSON_TYPE, ...base, ...c.headers };
    return Object.fromEntries(
      Object.entries(merged)
        .filter((e): e is [string, string] => e[1] !== null)
        .map(([k, v]) => [k, v.replace('{readToken}', readToken)]),
    );
  }

  it(`refuses every corpus entry (${CORPUS.length}) with a timely JSON 4xx, and posts nothing`, async () => {
    const failures: string[] = [];
    for (const c of CORPUS) {
      const body =
        c.body === undefined
          ? undefined
          : Buffer.isBuffer(c.body)
            ? c.body
            : Buffer.from(typeof c.body === 'string' ? c.body : JSON.stringify(c.body));
      for (const who of c.as ?? IDENTITIES) {
        const label = `[${who}] ${c.name}`;
        let answer: Answer;
        try {
          answer = await send(t.port, c.method ?? 'POST', c.path, headersFor(who, c), body);
        } catch (err) {
          failures.push(`${label}: ${(err as Error).message}`);
          continue;
        }
        const wrong = problem(answer);
        if (wrong) failures.push(`${label}: ${wrong}`);
        if (answer.status !== c.status)
          failures.push(
            `${label}: expected ${c.status}, got ${answer.status} ${messageOf(answer).slice(0, 200)}`,
          );
        if (c.message !== undefined) {
          const m = messageOf(answer);
          const ok = typeof c.message === 'string' ? m === c.message : c.message.test(m);
          if (!ok)
            failures.push(`${label}: message ${JSON.stringify(m.slice(0, 200))} is not ${String(c.message)}`);
        }
      }
    }
    expect(failures).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(watchers.flatMap((w) => w.buffered())).toEqual([]);
  }, 120_000);

  it('takes a text of exactly CHAT_MAX_MESSAGE_BYTES, and still answers afterwards', async () => {
    const text = 'é'.repeat(MAX_MESSAGE_BYTES / 2);
    await request(t.baseUrl)
      .post(PUBLISH)
      .set('Authorization', `Token ${publishToken}`)
      .send({ text })
      .expect(201);
    expect(await watchers[0].next()).toBe(`<Joe> ${text}`);
    await request(t.baseUrl).get('/health').expect(200);
  });
});
