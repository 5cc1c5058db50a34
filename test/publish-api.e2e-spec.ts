import { execFile, execFileSync } from 'node:child_process';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Group, UserGroup } from '../src/auth/group.entity';
import { ChatService } from '../src/chat/chat.service';
import { HistoryService } from '../src/chat/history.service';
import { RoomPolicies } from '../src/chat/room-policies';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { readmeBlock } from './support/readme';
import { createUser, login, LoginSession } from './support/users';
import { openWs, refusedUpgrade, WsClient } from './support/ws';

/**
 * The publish API (issue 19) on every database: a token or a session posts into rooms, as its user
 * or as a named bot, and sockets of both protocols get it like a socket's message, with its id, in
 * the history and the join replay. The README's curl and Python examples are run as written.
 */

const PYTHON = '/usr/bin/python3'; // Debian's python3-requests is importable only by it
try {
  execFileSync(PYTHON, ['-c', 'import requests'], { stdio: 'ignore', timeout: 20_000 });
  execFileSync('curl', ['--version'], { stdio: 'ignore', timeout: 20_000 });
} catch (err) {
  throw new Error(`this suite needs curl and python3-requests for ${PYTHON}: ${String(err)}`);
}

interface Frame {
  type: string;
  id?: number;
  text?: string;
  name?: string;
  bot?: boolean;
  messages?: Record<string, unknown>[];
}

function run(file: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

describe.each(databaseVariants())('publish API on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let wsBase: string;
  const ids: Record<string, number> = {};
  const sessions: Record<string, LoginSession> = {};
  const keys: Record<string, string> = {};
  const open: WsClient[] = [];

  const http = () => request(t.baseUrl);
  const withSession = (who: string, r: request.Test) =>
    r.set('Cookie', sessions[who].cookie).set('X-CSRFToken', sessions[who].csrf);
  const publish = (key: string, room: string, body: object) =>
    http().post(`/chat/rooms/${room}/messages`).set('Authorization', `Token ${key}`).send(body);
  const broadcast = (key: string, body: object) =>
    http().post('/chat/broadcast').set('Authorization', `Token ${key}`).send(body);
  const rules = (room: string, body: object) =>
    withSession('boss', http().put(`/admin/chat/rooms/${room}`))
      .send(body)
      .expect(200);

  async function plain(room: string, query = ''): Promise<WsClient> {
    const c = await openWs(`${wsBase}/chat/${room}/${query}`);
    open.push(c);
    expect(await c.next()).toBe('Bienvenue Anonymous troll !');
    return c;
  }

  async function v1(room: string, query = '?history=0'): Promise<WsClient> {
    const c = await openWs(`${wsBase}/chat/${room}/${query}`, { protocols: ['live.v1'] });
    open.push(c);
    expect((await c.nextJson<Frame>()).type).toBe('welcome');
    return c;
  }

  /** The next frame of `type`, skipping presence and the like. */
  async function next(c: WsClient, type: string): Promise<Frame> {
    const end = Date.now() + 5000;
    for (;;) {
      const f = await c.nextJson<Frame>(Math.max(1, end - Date.now()));
      if (f.type === type) return f;
    }
  }

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, API_TOKEN_RATE: '10000' });
    wsBase = `ws://127.0.0.1:${t.port}`;
    for (const [username, extra] of [
      ['joe', { firstName: 'Joe' }],
      ['boss', { isStaff: true, firstName: 'Big', lastName: 'Boss' }],
      ['mod', { firstName: 'Mo' }],
      ['mallory', {}],
    ] as const) {
      ids[username] = (await createUser(t, { username, password: 'pw', ...extra })).id;
      sessions[username] = await login(t, username, 'pw');
    }
    const ds = t.app.get(DataSource);
    const mods = await ds.getRepository(Group).save({ name: 'pub-mods' });
    await ds.getRepository(UserGroup).save({ userId: ids.mod, groupId: mods.id });
    const token = async (who: string, scopes: string[]) =>
      (
        await withSession(who, http().post('/auth/tokens'))
          .send({ name: `${who}-${scopes.join('-')}`, scopes })
          .expect(201)
      ).body.key as string;
    keys.joe = await token('joe', ['chat:publish']);
    keys.joeRead = await token('joe', ['chat:read']);
    keys.boss = await token('boss', ['chat:publish']);
    keys.mod = await token('mod', ['chat:publish']);
    keys.mallory = await token('mallory', ['chat:publish']);
  }, 60_000);

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  it('a token posts as its user: stored, numbered, delivered to plain and live.v1 sockets unchanged in shape', async () => {
    const room = 'pub-lobby';
    const p = await plain(room);
    const j = await v1(room);
    const res = await publish(keys.joe, room, { text: 'hello from a script' }).expect(201);
    expect(res.body).toEqual({
      id: expect.any(Number),
      room,
      user: ids.joe,
      name: 'Joe',
      text: 'hello from a script',
      ts: expect.any(String),
      bot: false,
    });
    expect(await p.next()).toBe('<Joe> hello from a script');
    // A user's message frame is exactly what a socket's message gives: no `bot` key.
    const { bot: _bot, ...stored } = res.body as Record<string, unknown>;
    expect(await next(j, 'message')).toEqual({ type: 'message', ...stored });
    const history = await http().get(`/chat/rooms/${room}/messages`).expect(200);
    expect(history.body.messages.at(-1)).toEqual(stored);
    // Ids keep growing with sockets' messages in between.
    p.send('from a socket');
    expect(await p.next()).toBe('<Anonymous troll> from a socket');
    const later = await publish(keys.joe, room, { text: 'again' }).expect(201);
    expect(later.body.id).toBeGreaterThan(res.body.id);
  });

  it('a session posts with its CSRF token; without it 403, anonymous 401, a token without chat:publish 403', async () => {
    const room = 'pub-session';
    const p = await plain(room);
    await withSession('joe', http().post(`/chat/rooms/${room}/messages`))
      .send({ text: 'by session' })
      .expect(201);
    expect(await p.next()).toBe('<Joe> by session');
    const noCsrf = await http()
      .post(`/chat/rooms/${room}/messages`)
      .set('Cookie', sessions.joe.cookie)
      .send({ text: 'x' });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.message).toMatch(/CSRF/);
    const anon = await http().post(`/chat/rooms/${room}/messages`).send({ text: 'x' });
    expect(anon.status).toBe(401);
    const readOnly = await publish(keys.joeRead, room, { text: 'x' });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body.message).toBe('This token lacks the "chat:publish" scope');
    await new Promise((r) => setTimeout(r, 200));
    expect(p.buffered()).toEqual([]);
  });

  it('a bot: <name> text on plain sockets, bot: true in live.v1 frames, the table, the REST history and the join replay', async () => {
    const room = 'pub-bots';
    const p = await plain(room);
    const j = await v1(room);
    const res = await publish(keys.boss, room, { text: 'deployed v2', name: 'Deploy bot' }).expect(201);
    expect(res.body).toMatchObject({
      room,
      user: ids.boss,
      name: 'Deploy bot',
      text: 'deployed v2',
      bot: true,
    });
    expect(await p.next()).toBe('<Deploy bot> deployed v2');
    expect(await next(j, 'message')).toEqual({ type: 'message', ...res.body });
    await t.app.get(HistoryService).flush();
    const ds = t.app.get(DataSource);
    const rows: { id: string | number; bot: boolean | number }[] = await ds.query(
      `SELECT id, bot FROM live_chat_message WHERE room = ${variant.name === 'sqlite' ? '?' : '$1'} ORDER BY id`,
      [room],
    );
    expect(rows.map((r) => [Number(r.id), Boolean(r.bot)])).toEqual([[res.body.id, true]]);
    const user = await publish(keys.joe, room, { text: 'thanks' }).expect(201);
    const history = await http().get(`/chat/rooms/${room}/messages`).expect(200);
    const { bot: _bot, ...userMessage } = user.body as Record<string, unknown>;
    expect(history.body.messages).toEqual([res.body, userMessage]);
    const replay = await v1(room, '?history=10');
    expect((await next(replay, 'history')).messages).toEqual([res.body, userMessage]);
    const plainReplay = await plain(room, '?history=2');
    expect([await plainReplay.next(), await plainReplay.next()]).toEqual([
      '<Deploy bot> deployed v2',
      '<Joe> thanks',
    ]);
  });

  it('only staff and the room’s moderators may use a bot name, and it must be printable', async () => {
    const room = 'pub-modded';
    await rules(room, { join: 'anyone', post: 'anyone', moderatorGroup: 'pub-mods' });
    const p = await plain(room);
    const refused = await publish(keys.joe, room, { text: 'x', name: 'Fake admin' });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('Only staff and the room’s moderators may post under a bot name');
    // A moderator of this room only: a bot here, not in a room without rules.
    await publish(keys.mod, room, { text: 'by the mods', name: 'Mod bot' }).expect(201);
    expect(await p.next()).toBe('<Mod bot> by the mods');
    expect((await publish(keys.mod, 'pub-elsewhere', { text: 'x', name: 'Mod bot' })).status).toBe(403);
    for (const name of ['', ' ', 'a\u0007b', 'line\nbreak', 'b'.repeat(151)]) {
      const bad = await publish(keys.boss, room, { text: 'x', name });
      expect(bad.status).toBe(400);
      expect(bad.body.message).toBe("name must be 1 to 150 printable characters (a bot's display name)");
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(p.buffered()).toEqual([]);
  });

  it('applies the room’s rules as to a socket: who may post, who may join, mutes and bans', async () => {
    await rules('pub-announce', { join: 'anyone', post: 'moderators' });
    const announce = await publish(keys.joe, 'pub-announce', { text: 'x' });
    expect([announce.status, announce.body.message]).toEqual([403, 'Only moderators may post in this room']);
    await publish(keys.boss, 'pub-announce', { text: 'news' }).expect(201);

    await rules('pub-members', { join: 'members', post: 'anyone', members: { users: ['boss'] } });
    const members = await publish(keys.joe, 'pub-members', { text: 'x' });
    expect([members.status, members.body.message]).toEqual([403, 'Only members may join this room']);

    const p = await plain('pub-sanctions');
    await withSession('boss', http().post('/chat/rooms/pub-sanctions/moderation/mute'))
      .send({ user: ids.mallory, reason: 'spam' })
      .expect(200);
    const muted = await publish(keys.mallory, 'pub-sanctions', { text: 'buy now' });
    expect(muted.status).toBe(403);
    expect(muted.body.message).toBe('You are muted in this room: spam');
    await withSession('boss', http().post('/chat/rooms/pub-sanctions/moderation/ban'))
      .send({ user: ids.mallory, duration: 600, reason: 'again' })
      .expect(200);
    const banned = await publish(keys.mallory, 'pub-sanctions', { text: 'buy now' });
    expect(banned.status).toBe(403);
    expect(banned.body.message).toMatch(/^You are banned from this room until \S+: again$/);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.buffered()).toEqual([]);
  });

  it('under CHAT_UNDECLARED_ROOMS=closed an undeclared room is 404, like its handshake', async () => {
    await rules('pub-declared', { join: 'anyone', post: 'anyone' });
    jest.spyOn(t.app.get(RoomPolicies), 'undeclared', 'get').mockReturnValue('closed');
    const res = await publish(keys.joe, 'pub-undeclared', { text: 'x' });
    expect([res.status, res.body.message]).toEqual([404, 'There is no room named pub-undeclared']);
    expect((await refusedUpgrade(`${wsBase}/chat/pub-undeclared/`)).statusCode).toBe(404);
    const both = await broadcast(keys.joe, { rooms: ['pub-declared', 'pub-undeclared'], text: 'x' });
    expect([both.status, both.body.message]).toEqual([
      404,
      'pub-undeclared: There is no room named pub-undeclared',
    ]);
    await publish(keys.joe, 'pub-declared', { text: 'declared' }).expect(201);
  });

  it('broadcast posts into every room, in order; one refused room refuses the whole request', async () => {
    const [one, two] = [await plain('pub-b1'), await plain('pub-b2')];
    const res = await broadcast(keys.joe, { rooms: ['pub-b1', 'pub-b2'], text: 'to both' }).expect(201);
    expect(res.body.messages.map((m: { room: string }) => m.room)).toEqual(['pub-b1', 'pub-b2']);
    expect(new Set(res.body.messages.map((m: { id: number }) => m.id)).size).toBe(2);
    expect([await one.next(), await two.next()]).toEqual(['<Joe> to both', '<Joe> to both']);
    const bots = await broadcast(keys.boss, { rooms: ['pub-b2'], text: 'bot', name: 'Ops' }).expect(201);
    expect(bots.body.messages[0]).toMatchObject({ name: 'Ops', bot: true });
    expect(await two.next()).toBe('<Ops> bot');

    const refused = await broadcast(keys.joe, { rooms: ['pub-b1', 'pub-announce', 'pub-b2'], text: 'never' });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe('pub-announce: Only moderators may post in this room');
    await new Promise((r) => setTimeout(r, 200));
    expect([...one.buffered(), ...two.buffered()]).toEqual([]);
    const history = await http().get('/chat/rooms/pub-b1/messages').expect(200);
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(['to both']);
  });

  it('answers 503 while the server shuts down, and posts nothing', async () => {
    const p = await plain('pub-stopping');
    jest.spyOn(t.app.get(ChatService), 'stopping', 'get').mockReturnValue(true);
    const res = await publish(keys.joe, 'pub-stopping', { text: 'late' });
    expect(res.status).toBe(503);
    expect(res.body.message).toMatch(/shutting down/);
    jest.restoreAllMocks();
    await new Promise((r) => setTimeout(r, 200));
    expect(p.buffered()).toEqual([]);
  });

  it('is described in the OpenAPI document with its scope, answer and errors', async () => {
    const { body } = await http().get('/api/openapi.json').expect(200);
    for (const path of ['/chat/rooms/{room}/messages', '/chat/broadcast']) {
      const op = body.paths[path].post;
      expect(op['x-token-scope']).toBe('chat:publish');
      expect(Object.keys(op.responses)).toEqual(
        expect.arrayContaining(['201', '400', '401', '403', '404', '503']),
      );
    }
    const message = body.components.schemas.PublishedMessageDoc;
    expect(Object.keys(message.properties)).toEqual(['id', 'room', 'user', 'name', 'text', 'ts', 'bot']);
    expect(body.components.schemas.PublishMessageDto.properties.name.maxLength).toBe(150);
    // The history's messages say they may carry `bot` (and only then).
    const history = body.components.schemas.ChatMessageDoc;
    expect(history.properties.bot).toMatchObject({ enum: [true] });
    expect(history.required).not.toContain('bot');
  });

  it('the README’s curl example posts into a room (real curl)', async () => {
    const command = readmeBlock('publish-curl');
    expect(command).toMatch(/^curl .*https:\/\/chat\.example\.org\/chat\/rooms\/lobby\/messages/s);
    const p = await plain('lobby');
    const out = await run('sh', ['-c', command.replaceAll('https://chat.example.org', t.baseUrl)], {
      LIVE_TOKEN: keys.joe,
    });
    const answer = JSON.parse(out) as { id: number; room: string; bot: boolean };
    expect(answer).toMatchObject({
      room: 'lobby',
      name: 'Joe',
      bot: false,
      text: 'Build 1234 finished: all green',
    });
    expect(await p.next()).toBe('<Joe> Build 1234 finished: all green');
  });

  it('the README’s Python client (requests, Authorization: Token) posts as its user and as a bot', async () => {
    const client = readmeBlock('publish-python');
    expect(client).toMatch(/Authorization.*Token/);
    const script = `${client}\n\nimport json, sys\nprint(json.dumps(post_to_room(*sys.argv[1:])))\n`;
    const p = await plain('django-room');
    const env = { LIVE_URL: t.baseUrl, LIVE_TOKEN: keys.joe };
    const mine = JSON.parse(await run(PYTHON, ['-c', script, 'django-room', 'order 42 shipped'], env));
    expect(mine).toMatchObject({ room: 'django-room', user: ids.joe, name: 'Joe', bot: false });
    expect(await p.next()).toBe('<Joe> order 42 shipped');
    const asBot = JSON.parse(
      await run(PYTHON, ['-c', script, 'django-room', 'stock low', 'Shop'], {
        ...env,
        LIVE_TOKEN: keys.boss,
      }),
    );
    expect(asBot).toMatchObject({ name: 'Shop', bot: true, user: ids.boss });
    expect(await p.next()).toBe('<Shop> stock low');
    // raise_for_status(): a refusal is an exception in Python, not a silent success.
    await expect(run(PYTHON, ['-c', script, 'django-room', 'x', 'Shop'], env)).rejects.toThrow(
      /403 Client Error/,
    );
  });
});
