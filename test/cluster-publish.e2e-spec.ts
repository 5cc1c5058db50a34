import { pbkdf2Sync } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createTestDatabase } from './support/app';
import { LiveInstance, startInstance } from './support/instances';
import { eventually, openWs, WsClient } from './support/ws';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const enabled = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
if (!enabled) console.warn('[live tests] cluster publish suite skipped: needs PostgreSQL and Redis');
const describeCluster = enabled ? describe : describe.skip;

interface Message {
  id: number;
  room: string;
  user: number | null;
  name: string;
  text: string;
  ts: string;
  bot?: boolean;
}
type Frame = { type: string; messages?: Message[] } & Partial<Message>;

/** A user row as Django stores it (PASSWORD_ITERATIONS of the instances does not matter to verify). */
async function insertUser(url: string, username: string, firstName: string, staff: boolean): Promise<number> {
  const salt = `${username}salt0123456789`;
  const hash = pbkdf2Sync('pub-pass', salt, 1000, 32, 'sha256').toString('base64');
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ id: number }>(
      `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
         is_active, date_joined) VALUES ($1, false, $2, $3, '', '', $4, true, now()) RETURNING id`,
      [`pbkdf2_sha256$1000$${salt}$${hash}`, username, firstName, staff],
    );
    return rows[0].id;
  } finally {
    await pg.end();
  }
}

/** Logs in on `instance` and makes a chat:publish token there. */
async function tokenFor(instance: LiveInstance, username: string): Promise<string> {
  const csrf = ((await (await fetch(`${instance.baseUrl}/auth/csrf`)).json()) as { csrfToken: string })
    .csrfToken;
  const loginRes = await fetch(`${instance.baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `csrftoken=${csrf}`, 'x-csrftoken': csrf },
    body: JSON.stringify({ username, password: 'pub-pass' }),
  });
  expect(loginRes.status).toBe(200);
  const cookies = loginRes.headers.getSetCookie().join(';');
  const session = /sessionid=([a-z0-9]+)/.exec(cookies)![1];
  const newCsrf = /csrftoken=([A-Za-z0-9_-]+)/.exec(cookies)![1];
  const res = await fetch(`${instance.baseUrl}/auth/tokens`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie: `sessionid=${session}; csrftoken=${newCsrf}`,
      'x-csrftoken': newCsrf,
    },
    body: JSON.stringify({ name: 'cluster', scopes: ['chat:publish'] }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

async function post(
  url: string,
  key: string,
  body: object,
): Promise<{ status: number; body: Message & { messages: Message[] } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Token ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Message & { messages: Message[] } };
}

/** The next frame of `type` on a live.v1 socket (presence and the like are skipped). */
async function next(c: WsClient, type: string): Promise<Frame> {
  const end = Date.now() + 5000;
  for (;;) {
    const f = await c.nextJson<Frame>(Math.max(1, end - Date.now()));
    if (f.type === type) return f;
  }
}

/**
 * Issue 19's publish API on two live processes sharing PostgreSQL and Redis: a message published
 * through either instance reaches plain and live.v1 sockets on both, with the id the API answered,
 * and both instances' history and join replay show it (a bot's with `bot: true`).
 */
describeCluster('cluster: the publish API on two instances (PostgreSQL + Redis)', () => {
  let db: { url: string; drop(): Promise<void> };
  let a: LiveInstance;
  let b: LiveInstance;
  const prefix = `live-test-pub-${process.pid}-${Date.now().toString(36)}`;
  const ids: Record<string, number> = {};
  const keys: Record<string, string> = {};
  const open: WsClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix, REDIS_PRESENCE_TTL_MS: '3000' };
    [a, b] = await Promise.all(['pub-a', 'pub-b'].map((name) => startInstance(name, env)));
    ids.pat = await insertUser(db.url, 'pat', 'Pat', false);
    ids.ops = await insertUser(db.url, 'ops', 'Ops', true);
    keys.pat = await tokenFor(a, 'pat');
    keys.ops = await tokenFor(b, 'ops');
  }, 90_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }, 30_000);

  async function sockets(room: string): Promise<{ plain: WsClient[]; v1: WsClient[] }> {
    const plain = await Promise.all([a, b].map((i) => openWs(`${i.wsUrl}/chat/${room}/`)));
    const v1 = await Promise.all(
      [a, b].map((i) => openWs(`${i.wsUrl}/chat/${room}/?history=0`, { protocols: ['live.v1'] })),
    );
    open.push(...plain, ...v1);
    for (const c of plain) expect(await c.next()).toBe('Bienvenue Anonymous troll !');
    for (const c of v1) expect((await c.nextJson<Frame>()).type).toBe('welcome');
    // Both instances hold the room: wait until each one's subscription reached Redis.
    await eventually(async () => {
      const rooms = (await (await fetch(`${a.baseUrl}/chat/rooms`)).json()) as {
        room: string;
        members: number;
      }[];
      return rooms.find((r) => r.room === room)?.members === 4;
    }, 5000);
    await new Promise((r) => setTimeout(r, 300));
    return { plain, v1 };
  }

  it('a message published through either instance reaches plain and live.v1 sockets on both, with its id', async () => {
    const room = 'pub-cluster';
    const { plain, v1 } = await sockets(room);
    const fromA = await post(`${a.baseUrl}/chat/rooms/${room}/messages`, keys.pat, { text: 'via a' });
    expect(fromA.status).toBe(201);
    expect(fromA.body).toMatchObject({ room, user: ids.pat, name: 'Pat', text: 'via a', bot: false });
    for (const c of plain) expect(await c.next()).toBe('<Pat> via a');
    const { bot: _bot, ...asSocketSees } = fromA.body as Message;
    for (const c of v1) expect(await next(c, 'message')).toEqual({ type: 'message', ...asSocketSees });

    const fromB = await post(`${b.baseUrl}/chat/rooms/${room}/messages`, keys.ops, {
      text: 'via b',
      name: 'Release bot',
    });
    expect(fromB.status).toBe(201);
    expect(fromB.body).toMatchObject({ user: ids.ops, name: 'Release bot', bot: true });
    // Ids are made by each instance's own slot: unique across the cluster.
    expect(fromB.body.id).not.toBe(fromA.body.id);
    for (const c of plain) expect(await c.next()).toBe('<Release bot> via b');
    for (const c of v1) expect(await next(c, 'message')).toEqual({ type: 'message', ...fromB.body });

    // The history through either instance, and the join replay: both messages, the bot's marked.
    const expected = [asSocketSees, fromB.body as Message];
    for (const i of [a, b])
      await eventually(async () => {
        const page = (await (await fetch(`${i.baseUrl}/chat/rooms/${room}/messages`)).json()) as {
          messages: Message[];
        };
        return JSON.stringify(page.messages) === JSON.stringify(expected);
      }, 5000);
    for (const i of [a, b]) {
      const replay = await openWs(`${i.wsUrl}/chat/${room}/?history=10`, { protocols: ['live.v1'] });
      open.push(replay);
      expect((await next(replay, 'history')).messages).toEqual(expected);
      const plainReplay = await openWs(`${i.wsUrl}/chat/${room}/?history=2`);
      open.push(plainReplay);
      const lines = [await plainReplay.next(), await plainReplay.next(), await plainReplay.next()];
      expect(lines).toEqual(['Bienvenue Anonymous troll !', '<Pat> via a', '<Release bot> via b']);
    }
  }, 30_000);

  it('a broadcast through one instance reaches each room’s sockets on the other', async () => {
    const [one, two] = await Promise.all(['pub-x1', 'pub-x2'].map((r) => openWs(`${b.wsUrl}/chat/${r}/`)));
    open.push(one, two);
    for (const c of [one, two]) expect(await c.next()).toBe('Bienvenue Anonymous troll !');
    await new Promise((r) => setTimeout(r, 300));
    const res = await post(`${a.baseUrl}/chat/broadcast`, keys.pat, {
      rooms: ['pub-x1', 'pub-x2'],
      text: 'both',
    });
    expect(res.status).toBe(201);
    expect(res.body.messages.map((m: Message) => m.room)).toEqual(['pub-x1', 'pub-x2']);
    expect([await one.next(), await two.next()]).toEqual(['<Pat> both', '<Pat> both']);
  }, 20_000);
});
