import { pbkdf2Sync } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createTestDatabase } from './support/app';
import { LiveInstance, startInstance } from './support/instances';
import { eventually, openWs, WsClient } from './support/ws';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const enabled = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
if (!enabled) console.warn('[live tests] cluster suite skipped: needs PostgreSQL and Redis');
const describeCluster = enabled ? describe : describe.skip;

interface Collector {
  client: WsClient;
  frames: string[];
}

/** A plain (seed protocol) client that records every frame after the welcome. */
async function collector(instance: LiveInstance, room: string): Promise<Collector> {
  const client = await openWs(`${instance.wsUrl}/chat/${room}/`);
  expect(await client.next()).toBe('Bienvenue Anonymous troll !');
  const frames: string[] = [];
  client.ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
  return { client, frames };
}

describeCluster('cluster: three live processes on PostgreSQL and Redis', () => {
  let db: { url: string; drop(): Promise<void> };
  let instances: LiveInstance[] = [];
  const prefix = `live-test-${process.pid}-${Date.now().toString(36)}`;
  const suiteStart = Date.now();

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      REDIS_PRESENCE_TTL_MS: '3000',
      CHAT_RATE: '10000',
      CHAT_BURST: '10000',
      // A job every 2 s, to see which instance runs each tick.
      CHAT_RETENTION_CRON: '*/2 * * * * *',
      // History written every 2 s: a `since` resume must not wait for it (flush barrier; the fixed
      // wait it replaced would have been 4.15 s).
      CHAT_HISTORY_FLUSH_MS: '2000',
    };
    // All three at once: migrations take turns under the advisory lock.
    instances = await Promise.all(['a', 'b', 'c'].map((name) => startInstance(name, env)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await db?.drop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }, 30_000);

  it('applied the migrations once and gave each instance its own message-id slot', () => {
    const applied = instances.flatMap((i) => i.events().filter((e) => e.event === 'migration_applied'));
    expect(applied.map((e) => e.name).sort()).toEqual(
      [...new Set(applied.map((e) => e.name as string))].sort(),
    );
    const slots = instances.map((i) => i.events().find((e) => e.event === 'instance_slot_leased')?.slot);
    expect(new Set(slots).size).toBe(3);
  });

  it('delivers every message to every client of the room on every instance, exactly once, in order per sender', async () => {
    const room = 'cluster-room';
    const receivers = await Promise.all(instances.flatMap((i) => [collector(i, room), collector(i, room)]));
    const outsider = await collector(instances[1], 'other-room');
    const senders = await Promise.all(instances.map((i) => openWs(`${i.wsUrl}/chat/${room}/`)));
    await Promise.all(senders.map((s) => s.next()));
    // Let every instance's subscription reach Redis before the traffic starts.
    await new Promise((r) => setTimeout(r, 300));
    const perSender = 100;
    for (let n = 0; n < perSender; n++) senders.forEach((s, k) => s.send(`s${k}-${n}`));

    const expected = senders.length * perSender;
    const everyone = [...receivers, ...senders.map((client) => ({ client, frames: [] as string[] }))];
    await eventually(() => receivers.every((r) => r.frames.length >= expected), 20_000);
    await new Promise((r) => setTimeout(r, 300)); // anything extra (a duplicate) would arrive by now
    for (const r of receivers) {
      expect(r.frames).toHaveLength(expected);
      for (let k = 0; k < senders.length; k++) {
        const mine = r.frames.filter((f) => f.startsWith(`<Anonymous troll> s${k}-`));
        expect(mine).toEqual(Array.from({ length: perSender }, (_, n) => `<Anonymous troll> s${k}-${n}`));
      }
    }
    expect(outsider.frames).toEqual([]);
    await Promise.all(everyone.map((r) => r.client.close()));
    await outsider.client.close();
  }, 40_000);

  it('counts members cluster-wide and sends live.v1 presence with the names from every instance', async () => {
    const room = 'presence-room';
    const plain = await Promise.all(instances.map((i) => collector(i, room)));
    const v1 = await openWs(`${instances[0].wsUrl}/chat/${room}/?history=0`, { protocols: ['live.v1'] });
    await eventually(async () => {
      const rooms = (await (await fetch(`${instances[2].baseUrl}/chat/rooms`)).json()) as {
        room: string;
        members: number;
      }[];
      return rooms.find((r) => r.room === room)?.members === 4;
    }, 5000);
    // A join on another instance reaches the v1 client as a presence frame counting all four.
    await eventually(async () => {
      const frames = v1.buffered().map((f) => JSON.parse(f) as { type: string; count?: number });
      return frames.some((f) => f.type === 'presence' && f.count === 4);
    }, 5000);
    await Promise.all(plain.map((p) => p.client.close()));
    await eventually(async () => {
      const frames = v1.buffered().map((f) => JSON.parse(f) as { type: string; count?: number });
      return frames.some((f) => f.type === 'presence' && f.count === 1);
    }, 5000);
    await v1.close();
  }, 20_000);

  it('a client that reconnects to another instance with ?since= gets exactly what it missed', async () => {
    const room = 'resume-room';
    const v1Url = (i: LiveInstance, query: string) => `${i.wsUrl}/chat/${room}/?${query}`;
    const first = await openWs(v1Url(instances[0], 'history=0'), { protocols: ['live.v1'] });
    expect((await first.nextJson()).type).toBe('welcome');
    const sender = await openWs(`${instances[1].wsUrl}/chat/${room}/`);
    await sender.next();
    await new Promise((r) => setTimeout(r, 200));
    sender.send('before');
    let lastSeen = 0;
    const seen: string[] = [];
    await eventually(() => {
      for (const f of first.buffered()) {
        seen.push(f);
        const frame = JSON.parse(f) as { type: string; id?: number; text?: string };
        if (frame.type === 'message' && frame.text === 'before') lastSeen = frame.id!;
      }
      return lastSeen > 0;
    }, 5000).catch((err: Error) => {
      throw new Error(`${err.message}: ${seen.join(' | ')}`);
    });
    await first.close();
    for (let n = 0; n < 5; n++) sender.send(`missed-${n}`);
    const resumed = await openWs(v1Url(instances[2], `since=${lastSeen}`), { protocols: ['live.v1'] });
    const texts: string[] = [];
    await eventually(async () => {
      for (const f of resumed.buffered()) {
        const frame = JSON.parse(f) as {
          type: string;
          text?: string;
          messages?: { text: string }[];
        };
        if (frame.type === 'history') texts.push(...frame.messages!.map((m) => m.text));
        if (frame.type === 'message') texts.push(frame.text!);
      }
      return texts.length >= 5;
    }, 5000);
    await new Promise((r) => setTimeout(r, 200));
    for (const f of resumed.buffered()) {
      const frame = JSON.parse(f) as { type: string; text?: string };
      if (frame.type === 'message') texts.push(frame.text!);
    }
    expect(texts).toEqual(['missed-0', 'missed-1', 'missed-2', 'missed-3', 'missed-4']);
    await Promise.all([resumed.close(), sender.close()]);
  }, 20_000);

  it('a since resume right after a burst, whose sender left, is answered at once from the database', async () => {
    const room = 'burst-room';
    const frame = (f: string) =>
      JSON.parse(f) as { type: string; id?: number; text?: string; messages?: { text: string }[] };
    const sender = await openWs(`${instances[0].wsUrl}/chat/${room}/?history=0`, { protocols: ['live.v1'] });
    expect(frame(await sender.next()).type).toBe('welcome');
    const echoed: { id: number; text: string }[] = [];
    sender.ws.on('message', (data: Buffer) => {
      const f = frame(data.toString('utf8'));
      if (f.type === 'message') echoed.push({ id: f.id!, text: f.text! });
    });
    const burst = Array.from({ length: 50 }, (_, n) => `burst-${n}`);
    for (const text of ['first', ...burst]) sender.send(JSON.stringify({ type: 'message', text }));
    await eventually(() => echoed.length === burst.length + 1, 5000);
    // Instance a now holds no member of the room, and the burst sits in its 2-second write batch.
    await sender.close();
    const since = echoed[0].id;
    const opened = Date.now();
    const resumed = await openWs(`${instances[2].wsUrl}/chat/${room}/?since=${since}`, {
      protocols: ['live.v1'],
    });
    let history: string[] | undefined;
    while (!history) {
      const f = frame(await resumed.next(5000));
      if (f.type === 'history') history = f.messages!.map((m) => m.text);
    }
    const waited = Date.now() - opened;
    expect(history).toEqual(burst);
    expect(waited).toBeLessThan(1000);
    await resumed.close();
  }, 20_000);

  it('runs a scheduled job on exactly one instance per tick', async () => {
    // The suite has run for several seconds with a 2-second retention job on all three instances.
    const waitUntil = suiteStart + 90_000;
    await eventually(() => {
      const starts = instances.flatMap((i) => i.events().filter((e) => e.event === 'job_started'));
      return starts.length >= 3 || Date.now() > waitUntil;
    }, 15_000);
    const starts = instances
      .flatMap((i) =>
        i
          .events()
          .filter((e) => e.event === 'job_started' && e.job === 'chat-retention')
          .map((e) => ({ instance: i.name, at: e.receivedAt as number })),
      )
      .sort((x, y) => x.at - y.at);
    expect(starts.length).toBeGreaterThanOrEqual(3);
    // Two instances running the same tick would log within milliseconds of each other.
    for (let k = 1; k < starts.length; k++) expect(starts[k].at - starts[k - 1].at).toBeGreaterThan(900);
  }, 20_000);

  it('a logout on one instance makes the session anonymous on the next handshake to any other', async () => {
    // A user as Django would store it (PASSWORD_ITERATIONS of the instances does not matter to verify).
    const salt = 'clustersalt0123456789';
    const hash = pbkdf2Sync('cluster-pass', salt, 1000, 32, 'sha256').toString('base64');
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    await pg.query(
      `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
         is_active, date_joined) VALUES ($1, false, 'roamer', 'Road', 'Runner', '', false, true, now())`,
      [`pbkdf2_sha256$1000$${salt}$${hash}`],
    );
    await pg.end();
    const [a, b, c] = instances;
    const csrfRes = await fetch(`${a.baseUrl}/auth/csrf`);
    const csrf = ((await csrfRes.json()) as { csrfToken: string }).csrfToken;
    const loginRes = await fetch(`${a.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `csrftoken=${csrf}`, 'x-csrftoken': csrf },
      body: JSON.stringify({ username: 'roamer', password: 'cluster-pass' }),
    });
    expect(loginRes.status).toBe(200);
    const sessionid = /sessionid=([a-z0-9]+)/.exec(loginRes.headers.getSetCookie().join(';'))![1];
    const newCsrf = /csrftoken=([A-Za-z0-9_-]+)/.exec(loginRes.headers.getSetCookie().join(';'))![1];
    const cookie = `sessionid=${sessionid}; csrftoken=${newCsrf}`;
    const onB = await openWs(`${b.wsUrl}/chat/roaming/`, { headers: { Cookie: cookie } });
    expect(await onB.next()).toBe('Bienvenue Road Runner !');
    await onB.close();
    const logout = await fetch(`${a.baseUrl}/auth/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrftoken': newCsrf },
    });
    expect(logout.status).toBe(204);
    for (const other of [b, c]) {
      const after = await openWs(`${other.wsUrl}/chat/roaming/`, { headers: { Cookie: cookie } });
      expect(await after.next()).toBe('Bienvenue Anonymous troll !');
      await after.close();
    }
  });
});
