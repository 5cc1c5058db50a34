import request from 'supertest';
import { DataSource } from 'typeorm';
import { Group, UserGroup } from '../src/auth/group.entity';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';
import { eventually, openWs, refusedUpgrade, WsClient } from './support/ws';

/**
 * Issue 18, room rules and moderation, with real ws clients in both protocols, on every database:
 * each rule and action allowed and refused, through REST and through live.v1 frames.
 */

interface Frame {
  type: string;
  code?: string;
  message?: string;
  id?: number;
  text?: string;
  name?: string;
  user?: number | null;
  until?: string | null;
  reason?: string;
  topic?: string;
  moderator?: boolean;
  readOnly?: string;
  action?: string;
}

type Who = 'anon' | 'boss' | 'mod' | 'alice' | 'bob' | 'carol';

describe.each(databaseVariants())('room rules and moderation on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let wsBase: string;
  const sessions = {} as Record<Exclude<Who, 'anon'>, LoginSession>;
  const ids = {} as Record<Exclude<Who, 'anon'>, number>;
  const open: WsClient[] = [];

  const cookieOf = (who: Who): Record<string, string> =>
    who === 'anon' ? {} : { Cookie: sessions[who].cookie };

  async function plain(room: string, who: Who): Promise<WsClient> {
    const c = await openWs(`${wsBase}/chat/${room}/`, { headers: cookieOf(who) });
    open.push(c);
    expect(await c.next()).toMatch(/^Bienvenue .* !$/);
    return c;
  }

  /** A live.v1 socket and its welcome frame (history=0: nothing but what happens next). */
  async function v1(room: string, who: Who): Promise<{ c: WsClient; welcome: Frame }> {
    const c = await openWs(`${wsBase}/chat/${room}/?history=0`, {
      protocols: ['live.v1'],
      headers: cookieOf(who),
    });
    open.push(c);
    return { c, welcome: await c.nextJson<Frame>() };
  }

  /** The next frame of `type` (presence frames and others are skipped). */
  async function next(c: WsClient, type: string, timeoutMs = 5000): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = await c.nextJson<Frame>(Math.max(1, end - Date.now()));
      if (f.type === type) return f;
    }
  }

  /** Frames of these types received within `ms`. */
  async function within(c: WsClient, ms: number, types: string[]): Promise<Frame[]> {
    await new Promise((r) => setTimeout(r, ms));
    return c
      .buffered()
      .map((s) => JSON.parse(s) as Frame)
      .filter((f) => types.includes(f.type));
  }

  function api(who: Who, method: 'get' | 'post' | 'put' | 'delete', path: string, body?: object) {
    let r = request(t.baseUrl)[method](path);
    if (who !== 'anon') r = r.set('Cookie', sessions[who].cookie).set('X-CSRFToken', sessions[who].csrf);
    return body === undefined ? r : r.send(body);
  }

  const rules = (room: string, body: object) =>
    api('boss', 'put', `/admin/chat/rooms/${room}`, body).expect(200);

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, CHAT_RATE: '200', CHAT_BURST: '200' });
    wsBase = `ws://127.0.0.1:${t.port}`;
    const make = async (username: string, extra: object = {}) =>
      (ids[username as Exclude<Who, 'anon'>] = (
        await createUser(t, { username, password: 'pw', ...extra })
      ).id);
    await make('boss', { isStaff: true, firstName: 'Big', lastName: 'Boss' });
    await make('mod', { firstName: 'Mo', lastName: 'Derator' });
    await make('alice');
    await make('bob');
    await make('carol');
    const ds = t.app.get(DataSource);
    const [mods, team] = await ds.getRepository(Group).save([{ name: 'mods' }, { name: 'team' }]);
    await ds.getRepository(UserGroup).save([
      { userId: ids.mod, groupId: mods.id },
      { userId: ids.alice, groupId: team.id },
    ]);
    for (const who of ['boss', 'mod', 'alice', 'bob', 'carol'] as const)
      sessions[who] = await login(t, who, 'pw');
  }, 60_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  describe('rooms without rules', () => {
    it('greet as before; staff are told they moderate, others see the welcome of old', async () => {
      const { welcome } = await v1('norules', 'bob');
      expect(welcome).toEqual({
        type: 'welcome',
        room: 'norules',
        name: 'bob',
        user: ids.bob,
        text: 'Bienvenue bob !',
      });
      const boss = await v1('norules', 'boss');
      expect(boss.welcome).toMatchObject({ type: 'welcome', name: 'Big Boss', moderator: true });
      const anon = await plain('norules', 'anon');
      anon.send('as before');
      expect(await anon.next()).toBe('<Anonymous troll> as before');
    });
  });

  describe('rules through /admin/chat/rooms', () => {
    it('staff declare, read, list and remove a room; others get 401/403', async () => {
      await api('anon', 'put', '/admin/chat/rooms/decl', { join: 'users', post: 'anyone' }).expect(401);
      await request(t.baseUrl).get('/admin/chat/rooms').expect(401);
      await api('bob', 'put', '/admin/chat/rooms/decl', { join: 'users', post: 'anyone' }).expect(403);
      const put = await rules('decl', {
        join: 'members',
        post: 'moderators',
        topic: 'Announcements',
        moderatorGroup: 'mods',
        members: { users: ['carol'], groups: ['team'] },
      });
      expect(put.body).toMatchObject({
        room: 'decl',
        join: 'members',
        post: 'moderators',
        topic: 'Announcements',
        moderatorGroup: { name: 'mods' },
        members: { users: [{ id: ids.carol, username: 'carol' }], groups: [{ name: 'team' }] },
        updatedBy: ids.boss,
      });
      expect((await api('boss', 'get', '/admin/chat/rooms/decl').expect(200)).body).toEqual(put.body);
      expect(
        (await api('boss', 'get', '/admin/chat/rooms').expect(200)).body.map((r: { room: string }) => r.room),
      ).toContain('decl');
      await api('boss', 'delete', '/admin/chat/rooms/decl').expect(204);
      await api('boss', 'get', '/admin/chat/rooms/decl').expect(404);
      await api('boss', 'delete', '/admin/chat/rooms/decl').expect(404);
    });

    it('refuses unknown users and groups, unknown rules, bad rooms, with 400 naming them', async () => {
      const bad = await api('boss', 'put', '/admin/chat/rooms/x', {
        join: 'members',
        post: 'anyone',
        members: { users: ['nobody', 'carol'], groups: ['ghosts'] },
      }).expect(400);
      expect(bad.body.message).toBe('Unknown users: nobody; Unknown groups: ghosts');
      const badRule = await api('boss', 'put', '/admin/chat/rooms/x', {
        join: 'everyone',
        post: 'admins',
      }).expect(400);
      expect(badRule.body.message).toEqual(
        expect.arrayContaining([
          'join must be one of anyone, users, members',
          'post must be one of anyone, users, members, moderators',
        ]),
      );
      await api('boss', 'put', '/admin/chat/rooms/a%20b', { join: 'users', post: 'anyone' }).expect(400);
      await api('boss', 'put', '/admin/chat/rooms/x', { join: 'users', post: 'anyone', extra: 1 }).expect(
        400,
      );
      await api('boss', 'put', '/admin/chat/rooms/x', {
        join: 'users',
        post: 'anyone',
        topic: 'x'.repeat(501),
      }).expect(400);
      await api('boss', 'get', '/admin/chat/rooms/x').expect(404);
    });
  });

  describe('who may join', () => {
    it('users: anonymous handshakes get 401 with a reason, users get in', async () => {
      await rules('usersonly', { join: 'users', post: 'anyone' });
      const refused = await refusedUpgrade(`${wsBase}/chat/usersonly/`);
      expect(refused.statusCode).toBe(401);
      expect(JSON.parse(refused.body)).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Log in to join this room',
      });
      await plain('usersonly', 'bob');
      const { welcome } = await v1('usersonly', 'bob');
      expect(welcome).toMatchObject({ type: 'welcome', name: 'bob' });
    });

    it('members: listed users and group members get in, other users 403, anonymous 401, moderators always', async () => {
      await rules('club', {
        join: 'members',
        post: 'members',
        moderatorGroup: 'mods',
        members: { users: ['carol'], groups: ['team'] },
      });
      for (const who of ['bob'] as const) {
        const r = await refusedUpgrade(`${wsBase}/chat/club/`, cookieOf(who));
        expect([r.statusCode, JSON.parse(r.body).message]).toEqual([403, 'Only members may join this room']);
      }
      expect((await refusedUpgrade(`${wsBase}/chat/club/`)).statusCode).toBe(401);
      for (const who of ['carol', 'alice', 'mod', 'boss'] as const) await plain('club', who);
      expect((await v1('club', 'mod')).welcome).toMatchObject({ moderator: true });
      expect((await v1('club', 'carol')).welcome).not.toHaveProperty('moderator');
    });

    it('GET /chat/rooms lists only the rooms the caller may join; room info and history say why not', async () => {
      await rules('secret', { join: 'members', post: 'anyone', members: { users: ['carol'] } });
      await plain('secret', 'carol');
      await plain('lobby-open', 'anon');
      const listed = async (who: Who) =>
        ((await api(who, 'get', '/chat/rooms').expect(200)).body as { room: string }[]).map((r) => r.room);
      await eventually(async () => (await listed('carol')).includes('secret'));
      expect(await listed('anon')).not.toContain('secret');
      expect(await listed('bob')).not.toContain('secret');
      expect(await listed('bob')).toContain('lobby-open');
      expect(await listed('boss')).toContain('secret');
      expect((await api('bob', 'get', '/chat/rooms/secret').expect(403)).body.message).toBe(
        'Only members may join this room',
      );
      await api('anon', 'get', '/chat/rooms/secret').expect(401);
      await api('bob', 'get', '/chat/rooms/secret/messages').expect(403);
      await api('carol', 'get', '/chat/rooms/secret/messages').expect(200);
      expect((await api('carol', 'get', '/chat/rooms/secret').expect(200)).body).toEqual({
        room: 'secret',
        declared: true,
        join: 'members',
        post: 'anyone',
        topic: '',
        moderator: false,
        readOnly: null,
        muted: null,
      });
    });
  });

  describe('who may post', () => {
    it('moderators (an announcement room): others are told forbidden (live.v1) or not relayed (plain)', async () => {
      await rules('news', { join: 'anyone', post: 'moderators', topic: 'Team news', moderatorGroup: 'mods' });
      const anon = await v1('news', 'anon');
      expect(anon.welcome).toMatchObject({
        topic: 'Team news',
        readOnly: 'Only moderators may post in this room',
      });
      const bobPlain = await plain('news', 'bob');
      const mod = await v1('news', 'mod');
      expect(mod.welcome).toMatchObject({ moderator: true, topic: 'Team news' });
      expect(mod.welcome).not.toHaveProperty('readOnly');
      anon.c.send(JSON.stringify({ type: 'message', text: 'may I?' }));
      expect(await next(anon.c, 'error')).toEqual({
        type: 'error',
        code: 'forbidden',
        message: 'Only moderators may post in this room',
      });
      bobPlain.send('me too?');
      mod.c.send(JSON.stringify({ type: 'message', text: 'announcement' }));
      // The plain socket's next line is the moderator's: its own text was not relayed.
      expect(await bobPlain.next()).toBe('<Mo Derator> announcement');
      expect((await next(anon.c, 'message')).text).toBe('announcement');
      expect((await within(mod.c, 150, ['message'])).map((f) => f.text)).toEqual(['announcement']);
      const { messages } = (await api('boss', 'get', '/chat/rooms/news/messages').expect(200)).body;
      expect(messages.map((m: { text: string }) => m.text)).toEqual(['announcement']);
    });

    it('users and members: the refusal names the rule; the allowed post', async () => {
      await rules('talk', { join: 'anyone', post: 'users' });
      const anon = await v1('talk', 'anon');
      anon.c.send(JSON.stringify({ type: 'message', text: 'hi' }));
      expect(await next(anon.c, 'error')).toMatchObject({
        code: 'forbidden',
        message: 'Log in to post in this room',
      });
      const bob = await v1('talk', 'bob');
      bob.c.send(JSON.stringify({ type: 'message', text: 'hi from bob' }));
      expect((await next(anon.c, 'message')).text).toBe('hi from bob');

      await rules('guild', { join: 'anyone', post: 'members', members: { groups: ['team'] } });
      const bob2 = await v1('guild', 'bob');
      bob2.c.send(JSON.stringify({ type: 'message', text: 'x' }));
      expect(await next(bob2.c, 'error')).toMatchObject({
        code: 'forbidden',
        message: 'Only members may post in this room',
      });
      const alice = await v1('guild', 'alice');
      alice.c.send(JSON.stringify({ type: 'message', text: 'from a member' }));
      expect((await next(bob2.c, 'message')).text).toBe('from a member');
    });
  });

  describe('rule changes reach open sockets', () => {
    it('sockets the new rules shut out are closed with 4012 and a reason; the others learn their rights', async () => {
      await api('boss', 'delete', '/admin/chat/rooms/shifting'); // may not exist
      const anonPlain = await plain('shifting', 'anon');
      const anonV1 = await v1('shifting', 'anon');
      const bob = await v1('shifting', 'bob');
      expect(bob.welcome).not.toHaveProperty('readOnly');
      await rules('shifting', { join: 'users', post: 'moderators', topic: 'Now quiet' });
      for (const c of [anonPlain, anonV1.c]) {
        const closed = await c.closed;
        expect(closed).toEqual({
          code: 4012,
          reason: 'the room’s rules no longer let you in: Log in to join this room',
        });
      }
      expect(await next(bob.c, 'room')).toEqual({
        type: 'room',
        room: 'shifting',
        topic: 'Now quiet',
        readOnly: 'Only moderators may post in this room',
      });
      bob.c.send(JSON.stringify({ type: 'message', text: 'still?' }));
      expect(await next(bob.c, 'error')).toMatchObject({ code: 'forbidden' });
      await api('boss', 'delete', '/admin/chat/rooms/shifting').expect(204);
      expect(await next(bob.c, 'room')).toEqual({ type: 'room', room: 'shifting' });
      bob.c.send(JSON.stringify({ type: 'message', text: 'free again' }));
      expect((await next(bob.c, 'message')).text).toBe('free again');
      await plain('shifting', 'anon');
    });
  });

  describe('deleting a message', () => {
    it('by REST: gone from history for everyone, live.v1 sockets told, the log keeps a copy', async () => {
      const watcher = await v1('del', 'anon');
      const speaker = await plain('del', 'bob');
      speaker.send('regrettable');
      speaker.send('fine');
      const first = await next(watcher.c, 'message');
      await next(watcher.c, 'message');
      expect([await speaker.next(), await speaker.next()]).toEqual(['<bob> regrettable', '<bob> fine']);
      await api('bob', 'post', '/chat/rooms/del/moderation/delete', { id: first.id }).expect(403);
      await api('anon', 'post', '/chat/rooms/del/moderation/delete', { id: first.id }).expect(401);
      const res = await api('boss', 'post', '/chat/rooms/del/moderation/delete', {
        id: first.id,
        reason: 'rude',
      }).expect(200);
      expect(res.body).toMatchObject({
        room: 'del',
        action: 'delete',
        actor: { id: ids.boss, name: 'Big Boss' },
        target: { id: null, name: 'bob' },
        message: { id: first.id, user: ids.bob, name: 'bob', text: 'regrettable' },
        reason: 'rude',
        via: 'http',
      });
      expect(await next(watcher.c, 'deleted')).toEqual({ type: 'deleted', room: 'del', id: first.id });
      const page = (await api('anon', 'get', '/chat/rooms/del/messages').expect(200)).body;
      expect(page.messages.map((m: { text: string }) => m.text)).toEqual(['fine']);
      // A new socket's join history does not have it either; the plain socket got nothing new.
      const late = await openWs(`${wsBase}/chat/del/?history=10`, { protocols: ['live.v1'] });
      open.push(late);
      await late.nextJson();
      expect((await next(late, 'history')) as unknown as { messages: { text: string }[] }).toMatchObject({
        messages: [{ text: 'fine' }],
      });
      expect(await within(watcher.c, 50, ['message'])).toEqual([]);
      expect(speaker.buffered()).toEqual([]);
      await api('boss', 'post', '/chat/rooms/del/moderation/delete', { id: first.id }).expect(404);
      await api('boss', 'post', '/chat/rooms/del/moderation/delete', { id: -1 }).expect(400);
    });

    it('by a moderator’s live.v1 frame; a non-moderator’s frame is forbidden', async () => {
      await rules('modded', { join: 'anyone', post: 'anyone', moderatorGroup: 'mods' });
      const mod = await v1('modded', 'mod');
      const bob = await v1('modded', 'bob');
      bob.c.send(JSON.stringify({ type: 'message', text: 'spam' }));
      const spam = await next(mod.c, 'message');
      bob.c.send(JSON.stringify({ type: 'delete', id: spam.id }));
      expect(await next(bob.c, 'error')).toEqual({
        type: 'error',
        code: 'forbidden',
        message: 'Only moderators of this room may do that',
      });
      mod.c.send(JSON.stringify({ type: 'delete', id: spam.id, reason: 'spam' }));
      expect(await next(mod.c, 'moderated')).toEqual({
        type: 'moderated',
        room: 'modded',
        action: 'delete',
        id: spam.id,
      });
      expect(await next(bob.c, 'deleted')).toEqual({ type: 'deleted', room: 'modded', id: spam.id });
      mod.c.send(JSON.stringify({ type: 'delete', id: spam.id }));
      expect(await next(mod.c, 'error')).toMatchObject({ code: 'not_found' });
      mod.c.send(JSON.stringify({ type: 'delete', id: 'x' }));
      expect(await next(mod.c, 'error')).toMatchObject({ code: 'bad_request' });
      // The moderator group moderates this room only.
      await api('mod', 'post', '/chat/rooms/elsewhere/moderation/kick', { user: ids.bob }).expect(403);
    });
  });

  describe('muting', () => {
    it('a muted user is told why, their posts refused (live.v1: muted; plain: nothing relayed) until unmuted', async () => {
      const room = 'quiet';
      await rules(room, { join: 'anyone', post: 'anyone', moderatorGroup: 'mods' });
      const mod = await v1(room, 'mod');
      const bob = await v1(room, 'bob');
      const bobPlain = await plain(room, 'bob');
      mod.c.send(JSON.stringify({ type: 'mute', user: ids.bob, duration: 600, reason: 'cool off' }));
      const ack = await next(mod.c, 'moderated');
      expect(ack).toMatchObject({ action: 'mute', user: ids.bob, until: expect.any(String) });
      const muted = await next(bob.c, 'muted');
      expect(muted).toEqual({
        type: 'muted',
        room,
        until: ack.until,
        reason: 'cool off',
        message: `You are muted in this room until ${ack.until}: cool off`,
      });
      bob.c.send(JSON.stringify({ type: 'message', text: 'but' }));
      expect(await next(bob.c, 'error')).toEqual({
        type: 'error',
        code: 'muted',
        message: `You are muted in this room until ${ack.until}: cool off`,
        until: ack.until,
      });
      bobPlain.send('plain but');
      // Still muted on a new socket: told right after the welcome.
      const again = await v1(room, 'bob');
      expect(await next(again.c, 'muted')).toMatchObject({ reason: 'cool off' });
      const sanctions = (await api('mod', 'get', `/chat/rooms/${room}/moderation/sanctions`).expect(200))
        .body;
      expect(sanctions).toEqual([
        expect.objectContaining({
          kind: 'mute',
          user: { id: ids.bob, username: 'bob', name: 'bob' },
          reason: 'cool off',
        }),
      ]);
      await api('bob', 'get', `/chat/rooms/${room}/moderation/sanctions`).expect(403);
      expect((await api('bob', 'get', `/chat/rooms/${room}`).expect(200)).body.muted).toMatchObject({
        reason: 'cool off',
      });

      await api('mod', 'post', `/chat/rooms/${room}/moderation/unmute`, { user: ids.bob }).expect(200);
      expect(await next(bob.c, 'unmuted')).toEqual({ type: 'unmuted', room });
      bob.c.send(JSON.stringify({ type: 'message', text: 'thanks' }));
      expect((await next(mod.c, 'message')).text).toBe('thanks');
      expect(await bobPlain.next()).toBe('<bob> thanks'); // 'plain but' was never relayed
      await api('mod', 'post', `/chat/rooms/${room}/moderation/unmute`, { user: ids.bob }).expect(404);
    });

    it('a mute with a duration ends by itself', async () => {
      const bob = await v1('brief', 'bob');
      await api('boss', 'post', '/chat/rooms/brief/moderation/mute', { user: ids.bob, duration: 1 }).expect(
        200,
      );
      await next(bob.c, 'muted');
      bob.c.send(JSON.stringify({ type: 'message', text: 'now?' }));
      expect(await next(bob.c, 'error')).toMatchObject({ code: 'muted' });
      await new Promise((r) => setTimeout(r, 1100));
      bob.c.send(JSON.stringify({ type: 'message', text: 'now.' }));
      expect((await next(bob.c, 'message')).text).toBe('now.');
    });
  });

  describe('kicking and banning', () => {
    it('kick closes the user’s sockets in that room only, with 4010 and the reason; they may rejoin', async () => {
      const bobPlain = await plain('kickroom', 'bob');
      const bobV1 = await v1('kickroom', 'bob');
      const elsewhere = await plain('otherroom', 'bob');
      const alice = await v1('kickroom', 'alice');
      const res = await api('boss', 'post', '/chat/rooms/kickroom/moderation/kick', {
        user: ids.bob,
        reason: 'take a break',
      }).expect(200);
      expect(res.body).toMatchObject({
        action: 'kick',
        target: { id: ids.bob, name: 'bob' },
        reason: 'take a break',
      });
      for (const c of [bobPlain, bobV1.c])
        expect(await c.closed).toEqual({ code: 4010, reason: 'kicked by a moderator: take a break' });
      expect(alice.c.ws.readyState).toBe(alice.c.ws.OPEN);
      elsewhere.send('still here');
      expect(await elsewhere.next()).toBe('<bob> still here');
      await plain('kickroom', 'bob');
    });

    it('ban closes with 4011 and refuses the handshake with 403 until unbanned', async () => {
      const room = 'banroom';
      await rules(room, { join: 'anyone', post: 'anyone', moderatorGroup: 'mods' });
      const bob = await v1(room, 'bob');
      const mod = await v1(room, 'mod');
      mod.c.send(JSON.stringify({ type: 'ban', user: ids.bob, reason: 'trolling' }));
      expect(await next(mod.c, 'moderated')).toMatchObject({ action: 'ban', user: ids.bob, until: null });
      expect(await bob.c.closed).toEqual({ code: 4011, reason: 'banned from this room: trolling' });
      const refused = await refusedUpgrade(`${wsBase}/chat/${room}/`, cookieOf('bob'));
      expect([refused.statusCode, JSON.parse(refused.body).message]).toEqual([
        403,
        'You are banned from this room: trolling',
      ]);
      await api('bob', 'get', `/chat/rooms/${room}/messages`).expect(403);
      mod.c.send(JSON.stringify({ type: 'unban', user: ids.bob }));
      expect(await next(mod.c, 'moderated')).toMatchObject({ action: 'unban', user: ids.bob });
      await plain(room, 'bob');
    });

    it('a ban with a duration lapses by itself', async () => {
      await api('boss', 'post', '/chat/rooms/shortban/moderation/ban', { user: ids.bob, duration: 1 }).expect(
        200,
      );
      expect((await refusedUpgrade(`${wsBase}/chat/shortban/`, cookieOf('bob'))).statusCode).toBe(403);
      await new Promise((r) => setTimeout(r, 1100));
      await plain('shortban', 'bob');
    });

    it('refuses what a moderator may not do: themselves, staff, fellow moderators, unknown users', async () => {
      const room = 'limits';
      await rules(room, { join: 'anyone', post: 'anyone', moderatorGroup: 'mods' });
      const say = async (who: Who, action: string, body: object, status: number, message?: string) => {
        const res = await api(who, 'post', `/chat/rooms/${room}/moderation/${action}`, body).expect(status);
        if (message) expect(res.body.message).toBe(message);
      };
      await say('mod', 'mute', { user: ids.mod }, 400, 'You cannot mute yourself');
      await say('mod', 'ban', { user: ids.boss }, 403, 'Only a superuser may ban staff');
      await say('boss', 'kick', { user: ids.mod }, 200);
      await say('mod', 'kick', { user: 2147483647 }, 404, 'No user with id 2147483647');
      await say('mod', 'mute', { user: ids.bob, duration: 0 }, 400);
      await say('mod', 'mute', { user: ids.bob, duration: 31_622_401 }, 400);
      await say('mod', 'mute', { user: ids.bob, reason: 'x'.repeat(501) }, 400);
      await say('mod', 'mute', { user: '5' }, 400);
      await say('mod', 'unban', { user: ids.bob }, 404, 'bob is not banned in this room');
      await say('bob', 'mute', { user: ids.alice }, 403, 'Only moderators of this room may do that');
      await rules(room, { join: 'anyone', post: 'anyone', moderatorGroup: 'team' });
      await say('alice', 'mute', { user: ids.bob }, 200); // alice moderates now, mod no longer
      await say('mod', 'mute', { user: ids.bob }, 403);
      const asMod = await v1(room, 'alice');
      asMod.c.send(JSON.stringify({ type: 'kick', user: ids.alice }));
      expect(await next(asMod.c, 'error')).toMatchObject({
        code: 'bad_request',
        message: 'You cannot kick yourself',
      });
      asMod.c.send(JSON.stringify({ type: 'mute', user: ids.bob, duration: -5 }));
      expect(await next(asMod.c, 'error')).toMatchObject({ code: 'bad_request' });
    });
  });

  describe('a moderator’s socket', () => {
    it('loses its rights with the staff status behind it: the next command is refused', async () => {
      const temp = await createUser(t, { username: 'temp', password: 'pw', isStaff: true });
      const tempSession = await login(t, 'temp', 'pw');
      const c = await openWs(`${wsBase}/chat/demoted/?history=0`, {
        protocols: ['live.v1'],
        headers: { Cookie: tempSession.cookie },
      });
      open.push(c);
      expect(await c.nextJson<Frame>()).toMatchObject({ type: 'welcome', moderator: true });
      c.send(JSON.stringify({ type: 'kick', user: ids.carol }));
      expect(await next(c, 'moderated')).toMatchObject({ action: 'kick', user: ids.carol });
      await t.app
        .get(DataSource)
        .query(
          `UPDATE auth_user SET is_staff = ${variant.name === 'sqlite' ? 0 : 'false'} WHERE id = ${temp.id}`,
        );
      c.send(JSON.stringify({ type: 'kick', user: ids.carol }));
      expect(await next(c, 'error')).toEqual({
        type: 'error',
        code: 'forbidden',
        message: 'Only moderators of this room may do that',
      });
    });
  });

  describe('the moderation log', () => {
    it('records every action with who, what, whom, where, why and when, newest first', async () => {
      const room = 'logged';
      await api('boss', 'post', `/chat/rooms/${room}/moderation/mute`, {
        user: ids.carol,
        duration: 60,
        reason: 'one',
      }).expect(200);
      await api('boss', 'post', `/chat/rooms/${room}/moderation/kick`, {
        user: ids.carol,
        reason: 'two',
      }).expect(200);
      const log = (await api('boss', 'get', `/chat/rooms/${room}/moderation/log`).expect(200)).body;
      expect(log.map((e: { action: string }) => e.action)).toEqual(['kick', 'mute']);
      expect(log[1]).toEqual({
        id: expect.any(Number),
        at: expect.stringMatching(/^\d{4}-/),
        room,
        action: 'mute',
        actor: { id: ids.boss, name: 'Big Boss' },
        target: { id: ids.carol, name: 'carol' },
        message: null,
        reason: 'one',
        until: expect.stringMatching(/^\d{4}-/),
        via: 'http',
      });
      const paged = (
        await api('boss', 'get', `/chat/rooms/${room}/moderation/log?before=${log[0].id}&limit=1`).expect(200)
      ).body;
      expect(paged.map((e: { id: number }) => e.id)).toEqual([log[1].id]);
      const all = (await api('boss', 'get', `/admin/chat/moderation/log?room=${room}`).expect(200)).body;
      expect(all).toEqual(log);
      const everything = (await api('boss', 'get', '/admin/chat/moderation/log?limit=500').expect(200)).body;
      expect(everything.some((e: { action: string }) => e.action === 'rules_set')).toBe(true);
      await api('bob', 'get', '/admin/chat/moderation/log').expect(403);
      await api('bob', 'get', `/chat/rooms/${room}/moderation/log`).expect(403);
      await api('boss', 'get', `/chat/rooms/${room}/moderation/log?limit=0`).expect(400);
    });
  });
});

/** CHAT_UNDECLARED_ROOMS=closed: only rooms staff declared exist. */
describe.each(databaseVariants())('undeclared rooms closed on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, CHAT_UNDECLARED_ROOMS: 'closed' });
    await createUser(t, { username: 'boss', password: 'pw', isStaff: true });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  it('refuses undeclared rooms with 404 before the handshake, for staff too; a declared one opens; removing closes its sockets', async () => {
    const boss = await login(t, 'boss', 'pw');
    const base = `ws://127.0.0.1:${t.port}`;
    for (const headers of [{}, { Cookie: boss.cookie }] as Record<string, string>[]) {
      const r = await refusedUpgrade(`${base}/chat/lobby/`, headers);
      expect([r.statusCode, JSON.parse(r.body).message]).toEqual([404, 'There is no room named lobby']);
    }
    await request(t.baseUrl).get('/chat/rooms/lobby/messages').expect(404);
    await request(t.baseUrl)
      .put('/admin/chat/rooms/lobby')
      .set('Cookie', boss.cookie)
      .set('X-CSRFToken', boss.csrf)
      .send({ join: 'anyone', post: 'anyone' })
      .expect(200);
    const c = await openWs(`${base}/chat/lobby/`);
    expect(await c.next()).toBe('Bienvenue Anonymous troll !');
    c.send('open');
    expect(await c.next()).toBe('<Anonymous troll> open');
    await request(t.baseUrl)
      .delete('/admin/chat/rooms/lobby')
      .set('Cookie', boss.cookie)
      .set('X-CSRFToken', boss.csrf)
      .expect(204);
    expect(await c.closed).toEqual({
      code: 4012,
      reason: 'the room’s rules no longer let you in: There is no room named lobby',
    });
  });
});
