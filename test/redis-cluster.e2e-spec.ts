import { createTestDatabase } from './support/app';
import { LiveInstance, startInstance } from './support/instances';
import {
  RedisCluster,
  redisCli,
  redisClusterToolsAvailable,
  startRedisCluster,
} from './support/redis-cluster';
import { eventually, openWs, WsClient } from './support/ws';

// Checked first, so that CI fails loudly without redis-server/redis-cli whatever else is there.
const tools = redisClusterToolsAvailable();
const enabled = tools && process.env.LIVE_TEST_PG === '1';
const describeRedisCluster = enabled ? describe : describe.skip;

interface Health {
  status: string;
  components: Record<string, { status: string }>;
}

async function redisHealth(i: LiveInstance): Promise<string | undefined> {
  const res = await fetch(`${i.baseUrl}/health`, { signal: AbortSignal.timeout(2000) });
  return ((await res.json()) as Health).components.redis?.status;
}

interface Peer {
  client: WsClient;
  frames: string[];
}

/** A plain (seed protocol) client that records every frame after the welcome. */
async function peer(instance: LiveInstance, room: string): Promise<Peer> {
  const client = await openWs(`${instance.wsUrl}/chat/${room}/`);
  expect(await client.next()).toBe('Bienvenue Anonymous troll !');
  const frames: string[] = [];
  client.ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
  return { client, frames };
}

/** The numbers `n` of `<Anonymous troll> <tag>-<n>` frames, in the order received. */
function numbersOf(frames: string[], tag: string): number[] {
  const head = `<Anonymous troll> ${tag}-`;
  return frames.filter((f) => f.startsWith(head)).map((f) => Number(f.slice(head.length)));
}

describeRedisCluster('Redis Cluster: sharded pub/sub per room, three live processes, a master killed', () => {
  let cluster: RedisCluster;
  let db: { url: string; drop(): Promise<void> };
  let instances: LiveInstance[] = [];
  const prefix = 'live-rc';
  /** Rooms whose channels hash to three different masters, with their slots. */
  const rooms: { room: string; slot: number; master: number }[] = [];
  const roomChannel = (room: string) => `${prefix}:chat:{${room}}`;

  beforeAll(async () => {
    [cluster, db] = await Promise.all([startRedisCluster(3, 1), createTestDatabase()]);
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: cluster.url,
      REDIS_PREFIX: prefix,
      REDIS_PRESENCE_TTL_MS: '3000',
      CHAT_RATE: '10000',
      CHAT_BURST: '10000',
    };
    instances = await Promise.all(['a', 'b', 'c'].map((name) => startInstance(name, env)));
    const masters = new Set<number>();
    for (let i = 0; rooms.length < 3 && i < 200; i++) {
      const room = `shard-room-${i}`;
      const slot = await cluster.slotOf(roomChannel(room));
      const master = await cluster.masterOf(slot);
      if (masters.has(master)) continue;
      masters.add(master);
      rooms.push({ room, slot, master });
    }
  }, 90_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await cluster?.stop();
    await db?.drop();
  }, 30_000);

  it('puts each room on its own shard: its sharded channel and its presence hash, nowhere else', async () => {
    expect(rooms).toHaveLength(3);
    const peers = await Promise.all(rooms.flatMap(({ room }) => instances.map((i) => peer(i, room))));
    for (const { room, slot, master } of rooms) {
      expect(await cluster.slotOf(`${prefix}:presence:{${room}}`)).toBe(slot);
      // Every instance subscribed to the room's channel on its master, with SSUBSCRIBE.
      await eventually(
        async () =>
          (await redisCli(master, 'pubsub', 'shardnumsub', roomChannel(room))).split('\n')[1] === '3',
        5000,
      );
      for (const other of rooms.filter((r) => r.master !== master))
        expect(await redisCli(other.master, 'pubsub', 'shardchannels', `*{${room}}`)).toBe('');
      // Plain PUBLISH/SUBSCRIBE is not used: no classic channel anywhere.
      expect(await redisCli(master, 'pubsub', 'channels')).toBe('');
      // The presence hash is on the same master, with one entry per instance.
      expect(await redisCli(master, 'hlen', `${prefix}:presence:{${room}}`)).toBe('3');
    }
    // Everything global (flush barrier, moderation, session ends) is on the master of one fixed tag.
    const control = await cluster.masterOf(await cluster.slotOf(`{${prefix}:control}`));
    for (const channel of ['chat-control', 'chat-moderation', 'chat-control:sessions']) {
      const reply = await redisCli(control, 'pubsub', 'shardnumsub', `{${prefix}:control}:${channel}`);
      expect(reply.split('\n')[1]).toBe('3');
    }
    // Presence is cluster-wide: any instance counts the members of every instance.
    await eventually(async () => {
      const listed = (await (await fetch(`${instances[2].baseUrl}/chat/rooms`)).json()) as {
        room: string;
        members: number;
      }[];
      return rooms.every(({ room }) => listed.find((r) => r.room === room)?.members === 3);
    }, 5000);
    await Promise.all(peers.map((p) => p.client.close()));
  }, 30_000);

  it('delivers every message exactly once and in order per sender, senders on every instance, rooms on every shard', async () => {
    const receivers = await Promise.all(
      rooms.map(({ room }) => Promise.all(instances.map((i) => peer(i, room)))),
    );
    const senders = await Promise.all(
      rooms.map(({ room }) => Promise.all(instances.map((i) => peer(i, room)))),
    );
    for (const { room, master } of rooms)
      await eventually(
        async () =>
          (await redisCli(master, 'pubsub', 'shardnumsub', roomChannel(room))).split('\n')[1] === '3',
        5000,
      );
    const perSender = 60;
    for (let n = 0; n < perSender; n++)
      senders.forEach((inRoom, r) => inRoom.forEach((s, k) => s.client.send(`r${r}s${k}-${n}`)));
    const expected = instances.length * perSender;
    await eventually(() => receivers.flat().every((p) => p.frames.length >= expected), 20_000);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would have arrived by now
    for (const [r, inRoom] of receivers.entries())
      for (const p of inRoom) {
        expect(p.frames).toHaveLength(expected);
        for (let k = 0; k < instances.length; k++)
          expect(numbersOf(p.frames, `r${r}s${k}`)).toEqual(Array.from({ length: perSender }, (_, n) => n));
      }
    await Promise.all([...receivers.flat(), ...senders.flat()].map((p) => p.client.close()));
  }, 40_000);

  /**
   * Traffic in a room of the victim's shard (senders and receivers on every instance) and in a room
   * of another shard while `kill` takes the shard's master away and `heal` brings the shard back:
   * checks /health, what was lost (counted by the receiving instances, exactly), that nothing was
   * lost outside the outage or in the other room, and that order held.
   */
  async function throughOutage(
    victim: { room: string; slot: number },
    healthy: { room: string; master: number },
    kill: () => Promise<void>,
    heal: () => Promise<void>,
    label: string,
  ): Promise<void> {
    const master = await cluster.masterOf(victim.slot);
    const startedAt = Date.now();
    const receivers = await Promise.all(instances.map((i) => peer(i, victim.room)));
    const senders = await Promise.all(instances.map((i) => peer(i, victim.room)));
    const otherReceiver = await peer(instances[1], healthy.room);
    const otherSender = await peer(instances[0], healthy.room);
    for (const [room, port] of [
      [victim.room, master],
      [healthy.room, healthy.master],
    ] as const)
      await eventually(
        async () =>
          Number((await redisCli(port, 'pubsub', 'shardnumsub', roomChannel(room))).split('\n')[1]) >= 2,
        5000,
      );
    const pids = instances.map((i) => i.process.pid);

    // Each sender sends a numbered message every 25 ms, noting when; so does the other room's.
    const sentAt: number[][] = senders.map(() => []);
    const otherSentAt: number[] = [];
    const ticker = setInterval(() => {
      senders.forEach((s, k) => {
        s.client.send(`k${k}-${sentAt[k].length}`);
        sentAt[k].push(Date.now());
      });
      otherSender.client.send(`o-${otherSentAt.length}`);
      otherSentAt.push(Date.now());
    }, 25);

    // /health of every instance, watched throughout.
    const healthSeen: { at: number; states: (string | undefined)[] }[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const states = await Promise.all(instances.map((i) => redisHealth(i).catch(() => 'no answer')));
        healthSeen.push({ at: Date.now(), states });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    try {
      await new Promise((r) => setTimeout(r, 1000));
      const killedAt = Date.now();
      await kill();
      // Every instance reports Redis down while the shard has no master…
      await eventually(
        () => healthSeen.some((h) => h.at > killedAt && h.states.every((s) => s === 'down')),
        10_000,
      );
      // …until the shard is back…
      await heal();
      // …and every instance reports Redis up again, without a restart.
      await eventually(
        async () => (await Promise.all(instances.map(redisHealth))).every((s) => s === 'up'),
        15_000,
      );
      const recoveredAt = Date.now();
      await new Promise((r) => setTimeout(r, 2500));
      clearInterval(ticker);
      const stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, 1500)); // what is still in flight arrives
      watching = false;
      await watcher;

      expect(instances.map((i) => i.process.pid)).toEqual(pids);
      expect(instances.every((i) => i.process.exitCode === null)).toBe(true);

      // Settled: after recovery every message crosses again; before the kill every one did.
      const settledFrom = recoveredAt + 1000;
      const inFlightFrom = killedAt - 300;
      let lost = 0;
      let reordered = 0;
      for (const [r, receiver] of receivers.entries())
        for (let k = 0; k < senders.length; k++) {
          const got = numbersOf(receiver.frames, `k${k}`);
          // Exactly once, whatever was lost.
          const received = new Set(got);
          expect(received.size).toBe(got.length);
          // In order, always. A publish that meets the promotion (MOVED, re-sent by ioredis) can
          // reach Redis after a later one (116 after 118, seen once in a CI run); the receiving
          // instance drops it rather than deliver it late, and it counts as lost.
          for (let i = 1; i < got.length; i++) if (got[i] <= got[i - 1]) reordered++;
          expect(got).toEqual([...got].sort((x, y) => x - y));
          const missing = sentAt[k].map((_, n) => n).filter((n) => !received.has(n));
          if (r === k) expect(missing).toEqual([]); // its own instance: delivered locally
          for (const n of missing) {
            expect(sentAt[k][n]).toBeGreaterThanOrEqual(inFlightFrom);
            expect(sentAt[k][n]).toBeLessThan(settledFrom);
          }
          lost += missing.length;
        }
      // The other shard's room lost nothing, and kept its order, while this one's master was down.
      expect(numbersOf(otherReceiver.frames, 'o')).toEqual(otherSentAt.map((_, n) => n));

      const summed = (event: string) =>
        instances
          .flatMap((i) =>
            i.events().filter((e) => e.event === event && (e.receivedAt as number) >= startedAt),
          )
          .reduce((sum, e) => sum + (e.count as number), 0);
      const reported = summed('redis_messages_not_relayed');
      const missed = summed('redis_messages_missed');
      const lateDropped = instances
        .flatMap((i) =>
          i
            .events()
            .filter((e) => e.event === 'redis_messages_missed' && (e.receivedAt as number) >= startedAt),
        )
        .reduce((sum, e) => sum + ((e.lateDropped as number) ?? 0), 0);
      const sentInWindow = sentAt.flat().filter((t) => t >= inFlightFrom && t < settledFrom).length;
      console.log(
        `[redis-cluster] ${label}, master ${master}: redis down for ${recoveredAt - killedAt} ms; ` +
          `${sentAt.flat().length} messages sent in ${stoppedAt - sentAt[0][0]} ms, ${sentInWindow} of them from 300 ms before the kill to 1 s after recovery; ` +
          `${lost} deliveries to other instances lost, ${missed} counted missed by the receiving instances, ` +
          `${reported} publishes reported not relayed by the senders; ${reordered} arrived after a later one, ${lateDropped} dropped by the receivers as late`,
      );
      // Counted: every delivery lost is one the receiving instance counted and logged, no more, no
      // less (a late message dropped was counted by the gap it left).
      expect(missed).toBe(lost);
      expect(reported).toBeLessThanOrEqual(sentInWindow);
      for (const i of instances) {
        const events = i
          .events()
          .filter((e) => (e.receivedAt as number) >= killedAt)
          .map((e) => e.event);
        expect(events).toContain('redis_down');
        expect(events.lastIndexOf('redis_up')).toBeGreaterThan(events.indexOf('redis_down'));
      }
      // The promoted master takes new subscriptions as well: fresh sockets in the same room.
      const again = await Promise.all(instances.map((i) => peer(i, victim.room)));
      await new Promise((r) => setTimeout(r, 300));
      again[2].client.send('after-failover-0');
      await eventually(() => again.every((p) => numbersOf(p.frames, 'after-failover').length === 1), 5000);
      await Promise.all(again.map((p) => p.client.close()));
    } finally {
      clearInterval(ticker);
      watching = false;
      await watcher;
      await Promise.all([...receivers, ...senders, otherReceiver, otherSender].map((p) => p.client.close()));
    }
  }

  it('a master killed mid-run: its room loses a counted, bounded few, the others lose none, and live recovers when a replica is promoted', async () => {
    const [victim, healthy] = rooms;
    const master = await cluster.masterOf(victim.slot);
    await throughOutage(
      victim,
      healthy,
      () => cluster.kill(master),
      async () => {
        await cluster.waitOk(20_000);
        expect(await cluster.masterOf(victim.slot)).not.toBe(master);
      },
      'replica promoted',
    );
  }, 60_000);

  it('a master without a replica that may take over: the shard waits for its return, and live recovers then', async () => {
    const [victim, healthy] = rooms;
    // The master killed above comes back as the replica of the promoted one; told not to take over.
    const former = victim.master;
    await cluster.restart(former);
    await eventually(async () => (await redisCli(former, 'role')).includes('connected'), 15_000);
    await redisCli(former, 'config', 'set', 'cluster-replica-no-failover', 'yes');
    await cluster.waitOk(15_000);
    const master = await cluster.masterOf(victim.slot);
    await throughOutage(
      victim,
      healthy,
      () => cluster.kill(master),
      async () => {
        await new Promise((r) => setTimeout(r, 3000)); // past cluster-node-timeout: no promotion
        expect(await cluster.masterOf(victim.slot)).toBe(master);
        await cluster.restart(master);
        await cluster.waitOk(20_000);
      },
      'master returned',
    );
  }, 60_000);
});
