import { createTestDatabase } from './support/app';
import { LiveInstance, PrivateRedis, privateRedis, startInstance } from './support/instances';
import { eventually, openWs, WsClient } from './support/ws';

const enabled = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
const describeCluster = enabled ? describe : describe.skip;

interface Health {
  status: string;
  components: Record<string, { status: string; detail?: string }>;
}

async function health(i: LiveInstance): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${i.baseUrl}/health`);
  return { code: res.status, body: (await res.json()) as Health };
}

async function members(i: LiveInstance, room: string): Promise<number | undefined> {
  const rooms = (await (await fetch(`${i.baseUrl}/chat/rooms`)).json()) as {
    room: string;
    members: number;
  }[];
  return rooms.find((r) => r.room === room)?.members;
}

interface Peer {
  client: WsClient;
  frames: string[];
}

async function peer(i: LiveInstance, room: string): Promise<Peer> {
  const client = await openWs(`${i.wsUrl}/chat/${room}/`);
  await client.next();
  const frames: string[] = [];
  client.ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
  return { client, frames };
}

const count = (p: Peer, text: string) => p.frames.filter((f) => f === `<Anonymous troll> ${text}`).length;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeCluster('cluster faults: Redis goes away and comes back, an instance dies', () => {
  let db: { url: string; drop(): Promise<void> };
  let redis: PrivateRedis;
  let instances: LiveInstance[] = [];
  const room = 'fault-room';
  let peers: Peer[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = await privateRedis();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'faults',
      REDIS_PRESENCE_TTL_MS: '2000',
      CHAT_RETENTION_CRON: 'off',
    };
    instances = await Promise.all(['a', 'b', 'c'].map((name) => startInstance(name, env)));
    peers = await Promise.all(instances.map((i) => peer(i, room)));
    await eventually(async () => (await members(instances[0], room)) === 3, 5000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.client.close().catch(() => undefined)));
    await Promise.all(instances.map((i) => i.stop()));
    await redis?.stop();
    await db?.drop();
  }, 30_000);

  it('with Redis up, a message crosses instances', async () => {
    peers[0].client.send('hello');
    await eventually(() => peers.every((p) => count(p, 'hello') === 1), 5000);
    expect((await health(instances[0])).body.components.redis.status).toBe('up');
  });

  it('with Redis down, each instance still serves its own sockets and /health says redis is down (200)', async () => {
    await redis.stop();
    await eventually(
      async () => (await health(instances[0])).body.components.redis?.status === 'down',
      10_000,
    );
    const h = await health(instances[0]);
    expect(h.code).toBe(200);
    expect(h.body.status).toBe('degraded');
    expect(h.body.components.database.status).toBe('up');

    peers[0].client.send('local-only');
    await eventually(() => count(peers[0], 'local-only') === 1, 5000);
    await pause(300);
    expect(count(peers[1], 'local-only')).toBe(0);
    // Presence falls back to what each instance knows.
    expect(await members(instances[1], room)).toBe(1);
    // The loss of Redis is logged once per connection, not once per retry.
    const downs = instances[0].events().filter((e) => e.event === 'redis_down');
    expect(downs.length).toBeGreaterThan(0);
    // Each connection (channel layer, presence, session-end relay…) says it at most once.
    const roles = downs.map((e) => String(e.role));
    expect(new Set(roles).size).toBe(roles.length);
    expect(instances[0].process.exitCode).toBeNull();
  }, 20_000);

  it('when Redis returns, cross-instance delivery resumes without restarting live', async () => {
    await redis.start();
    await eventually(
      async () =>
        (await Promise.all(instances.map(health))).every((h) => h.body.components.redis.status === 'up'),
      15_000,
    );
    // Subscriptions are restored on reconnect: probe until a message crosses, then check one exactly.
    let probe = 0;
    await eventually(async () => {
      peers[0].client.send(`probe-${probe++}`);
      await pause(100);
      return peers.slice(1).every((p) => p.frames.some((f) => f.includes('probe-')));
    }, 10_000);
    peers[1].client.send('back');
    await eventually(() => peers.every((p) => count(p, 'back') === 1), 5000);
    await pause(200);
    expect(peers.map((p) => count(p, 'back'))).toEqual([1, 1, 1]);
    expect(instances[0].events().some((e) => e.event === 'redis_up')).toBe(true);
    // Presence was pushed back: the cluster sees all three again.
    await eventually(async () => (await members(instances[2], room)) === 3, 5000);
  }, 40_000);

  it('when an instance is killed, the others go on and its presence entries expire', async () => {
    await instances[2].kill();
    peers[0].client.send('after-kill');
    await eventually(() => count(peers[1], 'after-kill') === 1 && count(peers[0], 'after-kill') === 1, 5000);
    // REDIS_PRESENCE_TTL_MS=2000: the dead instance's member vanishes within about that.
    const killedAt = Date.now();
    await eventually(async () => (await members(instances[0], room)) === 2, 8000);
    expect(Date.now() - killedAt).toBeLessThan(8000);
  }, 20_000);
});
