import request from 'supertest';
import WebSocket from 'ws';
import { ChannelLayer } from '../src/chat/channel-layer';
import { ChatService } from '../src/chat/chat.service';
import { RetentionJob } from '../src/chat/retention.job';
import { HistoryService } from '../src/chat/history.service';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login } from './support/users';
import { eventually, openWs, refusedUpgrade, WsClient } from './support/ws';

interface V1Message {
  type: string;
  id: number;
  room: string;
  user: number | null;
  name: string;
  text: string;
  ts: string;
}

describe.each(databaseVariants({ redis: true }))('chat over WebSocket on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let wsBase: string;
  let bossCookie: string;
  let plainCookie: string;
  const open: WsClient[] = [];

  const connect = async (
    path: string,
    options: { protocols?: string[]; headers?: Record<string, string> } = {},
  ) => {
    const c = await openWs(wsBase + path, options);
    open.push(c);
    return c;
  };
  const connectV1 = (path: string, headers: Record<string, string> = {}) =>
    connect(path, { protocols: ['live.v1'], headers });

  /** Skips frames until one of the given type arrives. */
  const nextOfType = async <T = V1Message>(c: WsClient, type: string): Promise<T> => {
    for (;;) {
      const f = await c.nextJson<{ type: string }>();
      if (f.type === type) return f as T;
    }
  };

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({
      ...db.env,
      CHAT_RATE: '50',
      CHAT_BURST: '100',
      CHAT_FLOOD_STRIKES: '20',
      CHAT_MAX_MESSAGE_BYTES: '65536',
      CHAT_MAX_BUFFERED_BYTES: '262144',
      CHAT_PING_INTERVAL_MS: '1500',
      CHAT_HISTORY_MAX_PER_ROOM: '30',
    });
    wsBase = `ws://127.0.0.1:${t.port}`;
    await createUser(t, { username: 'boss', password: 'pw', firstName: 'Big', lastName: 'Boss' });
    await createUser(t, { username: 'plainjoe', password: 'pw' });
    bossCookie = (await login(t, 'boss', 'pw')).cookie;
    plainCookie = (await login(t, 'plainjoe', 'pw')).cookie;
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  describe('the seed protocol, byte for byte', () => {
    it('greets anonymous users as Anonymous troll', async () => {
      const c = await connect('/chat/lobby/');
      expect(await c.next()).toBe('Bienvenue Anonymous troll !');
    });

    it('names logged-in users by full name, or username when the name is empty', async () => {
      const boss = await connect('/chat/lobby/', { headers: { Cookie: bossCookie } });
      expect(await boss.next()).toBe('Bienvenue Big Boss !');
      const joe = await connect('/chat/lobby/', { headers: { Cookie: plainCookie } });
      expect(await joe.next()).toBe('Bienvenue plainjoe !');
      const forged = await connect('/chat/lobby/', { headers: { Cookie: 'sessionid=' + 'z'.repeat(32) } });
      expect(await forged.next()).toBe('Bienvenue Anonymous troll !');
    });

    it('broadcasts "<name> text" to everyone in the room, sender included, and only that room', async () => {
      const boss = await connect('/chat/room1/', { headers: { Cookie: bossCookie } });
      const anon = await connect('/chat/room1/');
      const other = await connect('/chat/room2/');
      await Promise.all([boss.next(), anon.next(), other.next()]);
      boss.send('hello, room 1 ✓');
      expect(await boss.next()).toBe('<Big Boss> hello, room 1 ✓');
      expect(await anon.next()).toBe('<Big Boss> hello, room 1 ✓');
      anon.send('');
      expect(await boss.next()).toBe('<Anonymous troll> ');
      expect(await anon.next()).toBe('<Anonymous troll> ');
      await new Promise((r) => setTimeout(r, 100));
      expect(other.buffered()).toEqual([]);
    });

    it('accepts Unicode room names', async () => {
      const c = await connect(`/chat/${encodeURIComponent('salle-été_2')}/`);
      expect(await c.next()).toBe('Bienvenue Anonymous troll !');
      c.send('ok');
      expect(await c.next()).toBe('<Anonymous troll> ok');
    });

    it('leaves the group at disconnect', async () => {
      const a = await connect('/chat/leaving/');
      const b = await connect('/chat/leaving/');
      await Promise.all([a.next(), b.next()]);
      await eventually(async () =>
        (await request(t.baseUrl).get('/chat/rooms')).body.some(
          (r: { room: string; members: number }) => r.room === 'leaving' && r.members === 2,
        ),
      );
      await b.close();
      await eventually(async () =>
        (await request(t.baseUrl).get('/chat/rooms')).body.some(
          (r: { room: string; members: number }) => r.room === 'leaving' && r.members === 1,
        ),
      );
      a.send('still here');
      expect(await a.next()).toBe('<Anonymous troll> still here');
      await a.close();
      await eventually(
        async () =>
          !(await request(t.baseUrl).get('/chat/rooms')).body.some(
            (r: { room: string }) => r.room === 'leaving',
          ),
      );
    });
  });

  describe('refused upgrades', () => {
    it('404 for any other path', async () => {
      for (const path of ['/', '/chat/', '/chat/lobby', '/chat/lobby/x/', '/ws/chat/lobby/']) {
        const r = await refusedUpgrade(wsBase + path);
        expect(r.statusCode).toBe(404);
        expect(JSON.parse(r.body)).toMatchObject({ statusCode: 404, error: 'Not Found' });
      }
    });

    it('400 for a bad room name or query', async () => {
      for (const path of [
        '/chat/a%20b/',
        '/chat/a.b/',
        `/chat/${'x'.repeat(101)}/`,
        '/chat/%E0%A4%A/',
        '/chat/ok/?history=abc',
        '/chat/ok/?history=501',
        '/chat/ok/?since=-1',
      ]) {
        expect((await refusedUpgrade(wsBase + path)).statusCode).toBe(400);
      }
      const ok = await connect(`/chat/${'x'.repeat(100)}/`);
      expect(await ok.next()).toBe('Bienvenue Anonymous troll !');
    });

    it('403 for an Origin outside ALLOWED_HOSTS; allowed Origin and no Origin are accepted', async () => {
      const r = await refusedUpgrade(wsBase + '/chat/lobby/', { Origin: 'http://evil.example' });
      expect(r.statusCode).toBe(403);
      expect(JSON.parse(r.body).message).toMatch(/Origin/);
      expect((await refusedUpgrade(wsBase + '/chat/lobby/', { Origin: 'null' })).statusCode).toBe(403);
      const good = await connect('/chat/lobby/', { headers: { Origin: `http://localhost:${t.port}` } });
      expect(await good.next()).toBe('Bienvenue Anonymous troll !');
    });
  });

  describe('bad frames', () => {
    it('binary → 1003', async () => {
      const c = await connect('/chat/frames/');
      await c.next();
      c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await c.closed).toEqual({ code: 1003, reason: 'binary frames are not accepted; send text' });
    });

    it('larger than CHAT_MAX_MESSAGE_BYTES → 1009', async () => {
      const c = await connect('/chat/frames/');
      await c.next();
      c.send('x'.repeat(65537));
      expect(await c.closed).toEqual({ code: 1009, reason: 'message too big' });
    });

    it('exactly CHAT_MAX_MESSAGE_BYTES is accepted', async () => {
      const c = await connect('/chat/frames-ok/');
      await c.next();
      const text = 'y'.repeat(65536 - 1);
      c.send(text);
      expect(await c.next()).toBe(`<Anonymous troll> ${text}`);
    });

    it('invalid UTF-8 → 1007', async () => {
      const c = await connect('/chat/frames/');
      await c.next();
      c.ws.send(Buffer.from([0x68, 0xff, 0xfe]), { binary: false });
      expect(await c.closed).toEqual({ code: 1007, reason: 'invalid UTF-8' });
    });
  });

  describe('floods, slow consumers and dead peers', () => {
    it('a socket that keeps flooding is closed with 1008; its room goes on', async () => {
      const flooder = await connect('/chat/flood/');
      const calm = await connect('/chat/flood/');
      await Promise.all([flooder.next(), calm.next()]);
      for (let i = 0; i < 300 && flooder.ws.readyState === WebSocket.OPEN; i++) flooder.send(`spam ${i}`);
      expect(await flooder.closed).toEqual({ code: 1008, reason: 'rate limit exceeded' });
      const got = calm.buffered().filter((f) => f.startsWith('<Anonymous troll> spam'));
      // The burst allowance (100) gets through, nothing beyond burst + refill.
      await eventually(() => {
        got.push(...calm.buffered());
        return got.length >= 100;
      });
      expect(got.length).toBeLessThan(120);
      calm.send('after the flood');
      for (;;) if ((await calm.next()) === '<Anonymous troll> after the flood') break;
    });

    it('a socket that stops reading is closed with 1013 instead of buffering without bound', async () => {
      const slow = await connect('/chat/slow/');
      await slow.next();
      const senders = await Promise.all([
        connect('/chat/slow/'),
        connect('/chat/slow/'),
        connect('/chat/slow/'),
      ]);
      // Stop reading on the slow client: the kernel buffers fill, then the server's.
      (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const chat = t.app.get(ChatService);
      const serverSide = () => chat.clientsIn('slow');
      const big = 'z'.repeat(60_000);
      for (
        let round = 0;
        round < 300 &&
        serverSide().length === 4 &&
        serverSide().every((c) => c.ws.readyState === WebSocket.OPEN);
        round++
      ) {
        for (const s of senders) s.send(big);
        await new Promise((r) => setTimeout(r, 25));
      }
      const closing = serverSide().find((c) => c.ws.readyState !== WebSocket.OPEN);
      expect(closing).toBeDefined();
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      expect((await slow.closed).code).toBe(1013);
      // The senders were never affected.
      for (const s of senders) expect(s.ws.readyState).toBe(WebSocket.OPEN);
    });

    it('a peer that does not answer pings is terminated', async () => {
      const ws = new WebSocket(`${wsBase}/chat/dead/`, { autoPong: false });
      const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
      await new Promise((r) => ws.once('open', r));
      expect(await closed).toBe(1006);
    });
  });

  describe('live.v1', () => {
    it('sends welcome, history and presence as JSON', async () => {
      const seed = await connect('/chat/v1room/', { headers: { Cookie: plainCookie } });
      await seed.next();
      seed.send('first');
      seed.send('second');
      await seed.next();
      await seed.next();
      const boss = await connectV1('/chat/v1room/?history=1', { Cookie: bossCookie });
      expect(await boss.nextJson()).toEqual({
        type: 'welcome',
        room: 'v1room',
        name: 'Big Boss',
        user: expect.any(Number),
        text: 'Bienvenue Big Boss !',
      });
      const history = await boss.nextJson<{ type: string; messages: V1Message[] }>();
      expect(history.type).toBe('history');
      expect(history.messages.map((m) => m.text)).toEqual(['second']);
      expect(history.messages[0]).toEqual({
        id: expect.any(Number),
        room: 'v1room',
        user: expect.any(Number),
        name: 'plainjoe',
        text: 'second',
        ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      const presence = await nextOfType<{ members: string[]; count: number }>(boss, 'presence');
      expect(presence).toMatchObject({ members: ['Big Boss', 'plainjoe'], count: 2 });
      boss.send(JSON.stringify({ type: 'message', text: 'hi from v1' }));
      const msg = await nextOfType(boss, 'message');
      expect(msg).toMatchObject({ type: 'message', room: 'v1room', name: 'Big Boss', text: 'hi from v1' });
      expect(await seed.next()).toBe('<Big Boss> hi from v1');
      await seed.close();
      const after = await nextOfType<{ members: string[]; count: number }>(boss, 'presence');
      expect(after).toMatchObject({ members: ['Big Boss'], count: 1 });
    });

    it('announces a burst of joins to a room once per window, and presence still counts them all', async () => {
      const layer = t.app.get(ChannelLayer);
      const groupSend = jest.spyOn(layer, 'groupSend');
      try {
        const watcher = await connectV1('/chat/burst/?history=0');
        await watcher.nextJson(); // welcome
        await watcher.nextJson(); // empty history
        await eventually(async () => groupSend.mock.calls.length > 0);
        groupSend.mockClear();
        const joiners = await Promise.all(Array.from({ length: 12 }, () => connect('/chat/burst/')));
        await Promise.all(joiners.map((j) => j.next()));
        await eventually(async () => {
          const f = await nextOfType<{ count: number }>(watcher, 'presence');
          return f.count === 13;
        });
        const notices = groupSend.mock.calls.filter(
          ([room, event]) => room === 'burst' && event.kind === 'presence',
        );
        expect(notices.length).toBeGreaterThanOrEqual(1);
        expect(notices.length).toBeLessThan(12);
      } finally {
        groupSend.mockRestore();
      }
    });

    it('answers a malformed v1 frame with an error frame, without closing', async () => {
      const c = await connectV1('/chat/v1bad/?history=0');
      await c.nextJson();
      await c.nextJson(); // empty history
      c.send('not json');
      expect(await nextOfType(c, 'error')).toMatchObject({ code: 'bad_request' });
      c.send(JSON.stringify({ type: 'message', text: 5 }));
      expect(await nextOfType(c, 'error')).toMatchObject({ code: 'bad_request' });
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
    });

    it('gives plain clients history only when asked, as plain lines', async () => {
      const a = await connect('/chat/plainhist/');
      await a.next();
      a.send('one');
      a.send('two');
      await a.next();
      await a.next();
      const b = await connect('/chat/plainhist/?history=5');
      expect(await b.next()).toBe('Bienvenue Anonymous troll !');
      expect(await b.next()).toBe('<Anonymous troll> one');
      expect(await b.next()).toBe('<Anonymous troll> two');
      const c = await connect('/chat/plainhist/');
      expect(await c.next()).toBe('Bienvenue Anonymous troll !');
      await new Promise((r) => setTimeout(r, 100));
      expect(c.buffered()).toEqual([]);
    });

    it('recovers with since: exactly the missed messages, no gap, no duplicate, while traffic flows', async () => {
      const sender = await connect('/chat/recover/');
      await sender.next();
      const reader = await connectV1('/chat/recover/?history=0');
      await reader.nextJson();
      await reader.nextJson();
      const seen: string[] = [];
      const sent: string[] = [];
      let lastId = 0;
      const take = async (c: WsClient, until: string) => {
        for (;;) {
          const f = await c.nextJson<{ type: string; id: number; text: string; messages?: V1Message[] }>();
          const list =
            f.type === 'history'
              ? (f.messages ?? [])
              : f.type === 'message'
                ? [f as unknown as V1Message]
                : [];
          for (const m of list) {
            seen.push(m.text);
            lastId = m.id;
          }
          if (seen[seen.length - 1] === until) return;
        }
      };
      for (let i = 0; i < 10; i++) {
        sent.push(`m${i}`);
        sender.send(`m${i}`);
      }
      await take(reader, 'm9');
      await reader.close();
      // Messages go on while the reader is away and while it reconnects.
      let i = 10;
      const pump = setInterval(() => {
        if (i < 60) {
          sent.push(`m${i}`);
          sender.send(`m${i++}`);
        }
      }, 2);
      await new Promise((r) => setTimeout(r, 30));
      const back = await connectV1(`/chat/recover/?since=${lastId}`);
      expect((await back.nextJson<{ type: string }>()).type).toBe('welcome');
      await eventually(() => i >= 60, 10_000);
      clearInterval(pump);
      await take(back, 'm59');
      expect(seen).toEqual(sent);
    });
  });

  describe('history API and retention', () => {
    it('pages through a room with before and limit', async () => {
      const c = await connect('/chat/paging/');
      await c.next();
      for (let i = 0; i < 25; i++) c.send(`p${i}`);
      for (let i = 0; i < 25; i++) await c.next();
      const first = await request(t.baseUrl).get('/chat/rooms/paging/messages?limit=10').expect(200);
      expect(first.body.messages.map((m: V1Message) => m.text)).toEqual(
        Array.from({ length: 10 }, (_, k) => `p${15 + k}`),
      );
      expect(first.body.hasMore).toBe(true);
      const second = await request(t.baseUrl)
        .get(`/chat/rooms/paging/messages?limit=10&before=${first.body.messages[0].id}`)
        .expect(200);
      expect(second.body.messages.map((m: V1Message) => m.text)).toEqual(
        Array.from({ length: 10 }, (_, k) => `p${5 + k}`),
      );
      const last = await request(t.baseUrl)
        .get(`/chat/rooms/paging/messages?limit=10&before=${second.body.messages[0].id}`)
        .expect(200);
      expect(last.body.messages).toHaveLength(5);
      expect(last.body.hasMore).toBe(false);
      await t.app.get(HistoryService).flush();
      const all = await request(t.baseUrl).get('/chat/rooms/paging/messages?limit=500').expect(200);
      expect(all.body.messages).toHaveLength(25);
    });

    it('refuses bad parameters with 400', async () => {
      await request(t.baseUrl).get('/chat/rooms/bad%20room/messages').expect(400);
      await request(t.baseUrl).get('/chat/rooms/ok/messages?limit=0').expect(400);
      await request(t.baseUrl).get('/chat/rooms/ok/messages?limit=501').expect(400);
      await request(t.baseUrl).get('/chat/rooms/ok/messages?before=x').expect(400);
      await request(t.baseUrl).get('/chat/rooms/ok/messages?sort=1').expect(400);
    });

    it('keeps at most CHAT_HISTORY_MAX_PER_ROOM messages per room after the retention job', async () => {
      const chat = t.app.get(ChatService);
      for (let i = 0; i < 45; i++) chat.post('retained', null, 'bot', `r${i}`);
      for (let i = 0; i < 5; i++) chat.post('small', null, 'bot', `s${i}`);
      const deleted = await t.app.get(RetentionJob).run();
      expect(deleted).toBeGreaterThanOrEqual(15);
      const kept = await request(t.baseUrl).get('/chat/rooms/retained/messages?limit=500').expect(200);
      expect(kept.body.messages.map((m: V1Message) => m.text)).toEqual(
        Array.from({ length: 30 }, (_, k) => `r${15 + k}`),
      );
      const small = await request(t.baseUrl).get('/chat/rooms/small/messages?limit=500').expect(200);
      expect(small.body.messages).toHaveLength(5);
    });
  });
});
