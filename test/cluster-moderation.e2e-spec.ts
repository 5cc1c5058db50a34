import { pbkdf2Sync, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createTestDatabase } from './support/app';
import { LiveInstance, startInstance } from './support/instances';
import { eventually, openWs, refusedUpgrade, WsClient } from './support/ws';

/**
 * Issue 18 across two live processes on PostgreSQL and Redis: a rule change, a deletion, a mute, a
 * kick and a ban taken through one instance hold on the other's sockets, handshakes and history.
 */

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const enabled = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
if (!enabled) console.warn('[live tests] cluster moderation suite skipped: needs PostgreSQL and Redis');
const describeCluster = enabled ? describe : describe.skip;

interface Frame {
  type: string;
  id?: number;
  text?: string;
  code?: string;
  reason?: string;
  topic?: string;
  readOnly?: string;
}

interface Session {
  cookie: string;
  csrf: string;
}

describeCluster('room rules and moderation across two instances', () => {
  let db: { url: string; drop(): Promise<void> };
  let a: LiveInstance;
  let b: LiveInstance;
  const prefix = `live-test-mod-${process.pid}-${Date.now().toString(36)}`;
  const ids: Record<string, number> = {};
  const sessions: Record<string, Session> = {};
  const open: WsClient[] = [];

  async function login(instance: LiveInstance, username: string): Promise<Session> {
    const csrf = ((await (await fetch(`${instance.baseUrl}/auth/csrf`)).json()) as { csrfToken: string })
      .csrfToken;
    const res = await fetch(`${instance.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `csrftoken=${csrf}`, 'x-csrftoken': csrf },
      body: JSON.stringify({ username, password: 'cluster-pass' }),
    });
    expect(res.status).toBe(200);
    const cookies = res.headers.getSetCookie().join(';');
    const session = /sessionid=([a-z0-9]+)/.exec(cookies)?.[1] as string;
    const token = /csrftoken=([A-Za-z0-9]+)/.exec(cookies)?.[1] as string;
    return { cookie: `sessionid=${session}; csrftoken=${token}`, csrf: token };
  }

  async function call(instance: LiveInstance, who: string, method: string, path: string, body?: object) {
    const res = await fetch(`${instance.baseUrl}${path}`, {
      method,
      headers: {
        cookie: sessions[who].cookie,
        'x-csrftoken': sessions[who].csrf,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
  }

  async function v1(instance: LiveInstance, room: string, who: string | null): Promise<WsClient> {
    const c = await openWs(`${instance.wsUrl}/chat/${room}/?history=0`, {
      protocols: ['live.v1'],
      headers: who ? { Cookie: sessions[who].cookie } : {},
    });
    open.push(c);
    expect(await c.nextJson<Frame>()).toMatchObject({ type: 'welcome' });
    return c;
  }

  async function plain(instance: LiveInstance, room: string, who: string | null): Promise<WsClient> {
    const c = await openWs(`${instance.wsUrl}/chat/${room}/`, {
      headers: who ? { Cookie: sessions[who].cookie } : {},
    });
    open.push(c);
    expect(await c.next()).toMatch(/^Bienvenue /);
    return c;
  }

  async function next(c: WsClient, type: string): Promise<Frame> {
    for (;;) {
      const f = await c.nextJson<Frame>(8000);
      if (f.type === type) return f;
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      REDIS_PRESENCE_TTL_MS: '3000',
      // Messages stay unsaved on their instance for 2 s: a deletion through the other one must
      // still remove them (flush barrier, then the deletion reaches the queue).
      CHAT_HISTORY_FLUSH_MS: '2000',
    };
    [a, b] = await Promise.all([startInstance('mod-a', env), startInstance('mod-b', env)]);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    for (const [username, staff] of [
      ['boss', true],
      ['bob', false],
    ] as const) {
      const salt = randomBytes(8).toString('hex');
      const hash = pbkdf2Sync('cluster-pass', salt, 1000, 32, 'sha256').toString('base64');
      const row = await pg.query<{ id: number }>(
        `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
           is_active, date_joined) VALUES ($1, false, $2, '', '', '', $3, true, now()) RETURNING id`,
        [`pbkdf2_sha256$1000$${salt}$${hash}`, username, staff],
      );
      ids[username] = row.rows[0].id;
    }
    await pg.end();
    sessions.boss = await login(a, 'boss');
    sessions.bob = await login(b, 'bob');
  }, 120_000);

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

  it('a rule change through A closes the shut-out sockets on B (4012), re-decides the others, and B refuses at once', async () => {
    const anonOnB = await plain(b, 'ruled', null);
    const bobOnB = await v1(b, 'ruled', 'bob');
    // B has read the room (open); now A declares it.
    const put = await call(a, 'boss', 'PUT', '/admin/chat/rooms/ruled', {
      join: 'users',
      post: 'moderators',
      topic: 'Quiet',
    });
    expect(put.status).toBe(200);
    expect(await anonOnB.closed).toEqual({
      code: 4012,
      reason: 'the room’s rules no longer let you in: Log in to join this room',
    });
    expect(await next(bobOnB, 'room')).toMatchObject({
      topic: 'Quiet',
      readOnly: 'Only moderators may post in this room',
    });
    expect((await refusedUpgrade(`${b.wsUrl}/chat/ruled/`)).statusCode).toBe(401);
    bobOnB.send(JSON.stringify({ type: 'message', text: 'x' }));
    expect(await next(bobOnB, 'error')).toMatchObject({ code: 'forbidden' });
    expect((await call(a, 'boss', 'DELETE', '/admin/chat/rooms/ruled')).status).toBe(204);
    await plain(b, 'ruled', null);
  }, 30_000);

  it('a message posted on B and still unsaved there, deleted through A: gone for every socket and from the database', async () => {
    const watcherOnA = await v1(a, 'wipe', null);
    const bobOnB = await v1(b, 'wipe', 'bob');
    await new Promise((r) => setTimeout(r, 300)); // both instances receive the room
    bobOnB.send(JSON.stringify({ type: 'message', text: 'oops' }));
    bobOnB.send(JSON.stringify({ type: 'message', text: 'kept' }));
    const oops = await next(watcherOnA, 'message');
    await next(watcherOnA, 'message');
    const res = await call(a, 'boss', 'POST', '/chat/rooms/wipe/moderation/delete', {
      id: oops.id,
      reason: 'typo',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ message: { id: oops.id, text: 'oops' } });
    expect(await next(bobOnB, 'deleted')).toEqual({ type: 'deleted', room: 'wipe', id: oops.id });
    expect(await next(watcherOnA, 'deleted')).toEqual({ type: 'deleted', room: 'wipe', id: oops.id });
    // Past B's next write (2 s), the database has 'kept' and not 'oops', through either instance.
    await new Promise((r) => setTimeout(r, 2500));
    for (const instance of [a, b]) {
      const page = (await call(instance, 'bob', 'GET', '/chat/rooms/wipe/messages')).body as {
        messages: { text: string }[];
      };
      expect(page.messages.map((m) => m.text)).toEqual(['kept']);
    }
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const rows = await pg.query<{ text: string }>('SELECT text FROM live_chat_message WHERE room = $1', [
      'wipe',
    ]);
    const log = await pg.query<{ message_text: string }>(
      "SELECT message_text FROM live_chat_moderation_log WHERE room = 'wipe' AND action = 'delete'",
    );
    await pg.end();
    expect(rows.rows.map((r) => r.text)).toEqual(['kept']);
    expect(log.rows.map((r) => r.message_text)).toEqual(['oops']);
  }, 30_000);

  it('a mute from a moderator’s socket on A holds on B; the unmute too', async () => {
    const bossOnA = await v1(a, 'hush', 'boss');
    const bobOnB = await v1(b, 'hush', 'bob');
    bossOnA.send(JSON.stringify({ type: 'mute', user: ids.bob, duration: 600, reason: 'hush' }));
    expect(await next(bossOnA, 'moderated')).toMatchObject({ action: 'mute', user: ids.bob });
    expect(await next(bobOnB, 'muted')).toMatchObject({ reason: 'hush' });
    bobOnB.send(JSON.stringify({ type: 'message', text: 'no' }));
    expect(await next(bobOnB, 'error')).toMatchObject({ code: 'muted' });
    // A new socket on B is muted from its welcome on (B read the sanction again).
    const again = await v1(b, 'hush', 'bob');
    expect(await next(again, 'muted')).toMatchObject({ reason: 'hush' });
    bossOnA.send(JSON.stringify({ type: 'unmute', user: ids.bob }));
    expect(await next(bobOnB, 'unmuted')).toEqual({ type: 'unmuted', room: 'hush' });
    bobOnB.send(JSON.stringify({ type: 'message', text: 'yes' }));
    expect((await next(bossOnA, 'message')).text).toBe('yes');
  }, 30_000);

  it('a kick through B closes the user’s sockets on A with 4010; a ban through A closes on B (4011) and B refuses the handshake until unbanned', async () => {
    const bobOnA = await plain(a, 'door', 'bob');
    const bobV1OnA = await v1(a, 'door', 'bob');
    expect(
      (await call(b, 'boss', 'POST', '/chat/rooms/door/moderation/kick', { user: ids.bob, reason: 'out' }))
        .status,
    ).toBe(200);
    for (const c of [bobOnA, bobV1OnA])
      expect(await c.closed).toEqual({ code: 4010, reason: 'kicked by a moderator: out' });

    const bobOnB = await plain(b, 'door', 'bob');
    expect(
      (await call(a, 'boss', 'POST', '/chat/rooms/door/moderation/ban', { user: ids.bob, reason: 'gone' }))
        .status,
    ).toBe(200);
    expect(await bobOnB.closed).toEqual({ code: 4011, reason: 'banned from this room: gone' });
    for (const instance of [a, b]) {
      const refused = await refusedUpgrade(`${instance.wsUrl}/chat/door/`, { Cookie: sessions.bob.cookie });
      expect([refused.statusCode, JSON.parse(refused.body).message]).toEqual([
        403,
        'You are banned from this room: gone',
      ]);
    }
    expect(
      (await call(a, 'boss', 'POST', '/chat/rooms/door/moderation/unban', { user: ids.bob })).status,
    ).toBe(200);
    await eventually(async () => {
      try {
        await plain(b, 'door', 'bob');
        return true;
      } catch {
        return false;
      }
    }, 3000);
    const log = (await call(b, 'boss', 'GET', '/chat/rooms/door/moderation/log')).body as unknown as {
      action: string;
    }[];
    expect(log.map((e) => e.action)).toEqual(['unban', 'ban', 'kick']);
  }, 30_000);
});
