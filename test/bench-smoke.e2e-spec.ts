import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startBaseline, type BaselineServer } from '../bench/baseline-server';
import { runLoad, type LoadResult } from '../bench/load';
import { planLayout, runScale, SCALE_QUICK } from '../bench/scale';
import { SCENARIOS } from '../bench/scenarios';
import { LIVE_BENCH_ENV, TARGETS } from '../bench/targets';
import { startApp, type TestApp } from './support/app';

/** The bench tool, in --quick sizes, against the raw ws baseline and a real in-process live. */
describe('bench smoke (npm run bench --quick)', () => {
  let live: TestApp;
  let baseline: BaselineServer;

  beforeAll(async () => {
    live = await startApp({ ...LIVE_BENCH_ENV });
    baseline = await startBaseline(0);
  });

  afterAll(async () => {
    await baseline?.close();
    await live?.close();
  });

  const quick = (id: string) => {
    const s = SCENARIOS.find((x) => x.id === id);
    if (!s) throw new Error(`no scenario ${id}`);
    return s.quick;
  };

  function expectClean(r: LoadResult, connections: number): void {
    expect(r.connectFailures).toBe(0);
    expect(r.connections).toBe(connections);
    expect(r.timedOut).toBe(false);
    expect(r.delivered).toBe(r.expected);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
    expect(r.misrouted).toBe(0);
    expect(r.otherFrames).toBe(0);
    expect(r.closedByServer).toEqual({});
  }

  it.each(['baseline', 'live'])('(a) window mode on %s: every message once, timed', async (which) => {
    const port = which === 'live' ? live.port : baseline.port;
    const load = quick('a');
    const r = await runLoad({ ...load, urls: [`ws://127.0.0.1:${port}`], pids: [process.pid] });
    expectClean(r, load.rooms * load.clientsPerRoom);
    expect(r.sent).toBe(load.sendersPerRoom * load.messagesPerSender);
    expect(r.expected).toBe(load.clientsPerRoom * load.sendersPerRoom * load.messagesPerSender);
    expect(r.deliveriesPerSec).toBeGreaterThan(100);
    expect(r.latencyMs).not.toBeNull();
    const l = r.latencyMs!;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(l.max).toBeLessThan(5000);
    // /proc sampling works (this process is the server here).
    expect(r.server).not.toBeNull();
    expect(r.server!.idleRssKiB).toBeGreaterThan(10_000);
  });

  it('(b) many rooms on live: nothing crosses rooms', async () => {
    const load = quick('b');
    const r = await runLoad({ ...load, urls: [`ws://127.0.0.1:${live.port}`] });
    expectClean(r, load.rooms * load.clientsPerRoom);
    expect(r.expected).toBe(load.rooms * load.clientsPerRoom * load.sendersPerRoom * load.messagesPerSender);
  });

  it('(d) paced mode on live sends at the asked rate', async () => {
    const load = quick('d');
    const r = await runLoad({ ...load, urls: [`ws://127.0.0.1:${live.port}`] });
    expectClean(r, load.rooms * load.clientsPerRoom);
    // 10 messages at 10/s take about 0.9 s: paced, not a burst.
    expect(r.messageSeconds).toBeGreaterThan(0.8);
    expect(r.messageSeconds).toBeLessThan(5);
  });

  it('counts lost, duplicated and misrouted messages of a faulty server', async () => {
    // Drops every 5th message, sends every 7th twice, and copies every 11th to the other room.
    const sockets = new Map<string, Set<WebSocket>>();
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    let n = 0;
    wss.on('connection', (ws, req) => {
      const room = req.url ?? '';
      if (!sockets.has(room)) sockets.set(room, new Set());
      sockets.get(room)!.add(ws);
      ws.send('Bienvenue Anonymous troll !');
      ws.on('message', (data: Buffer) => {
        n++;
        const frame = `<Anonymous troll> ${data.toString()}`;
        if (n % 5 === 0) return;
        for (const peer of sockets.get(room) ?? []) {
          peer.send(frame);
          if (n % 7 === 0) peer.send(frame);
        }
        if (n % 11 === 0)
          for (const [other, peers] of sockets) if (other !== room) for (const p of peers) p.send(frame);
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    try {
      const r = await runLoad({
        urls: [`ws://127.0.0.1:${port}`],
        rooms: 2,
        clientsPerRoom: 3,
        sendersPerRoom: 1,
        messagesPerSender: 40,
        window: 1000,
        idleMs: 500,
      });
      expect(r.connections).toBe(6);
      expect(r.lost).toBeGreaterThan(0);
      expect(r.lost).toBe(r.expected - r.delivered);
      expect(r.duplicated).toBeGreaterThan(0);
      expect(r.misrouted).toBeGreaterThan(0);
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it('counts what a broken server loses: a room nobody serves', async () => {
    const r = await runLoad({
      urls: [`ws://127.0.0.1:${baseline.port}/nowhere`],
      rooms: 1,
      clientsPerRoom: 2,
      sendersPerRoom: 1,
      messagesPerSender: 1,
      connectTimeoutMs: 2000,
    });
    expect(r.connections).toBe(0);
    expect(r.connectFailures).toBe(2);
    expect(r.firstConnectError).toMatch(/404/);
  });

  it.each(['baseline', 'live'])(
    '(e) at quick sizes on %s: forked load generators, one room of 500 and 10 of 50, every message once',
    async (which) => {
      const port = which === 'live' ? live.port : baseline.port;
      const r = await runScale(SCALE_QUICK, { urls: [`ws://127.0.0.1:${port}`], pids: [process.pid] });
      const sockets = SCALE_QUICK.bigRoom + SCALE_QUICK.smallRooms * SCALE_QUICK.smallRoomSize;
      expect(r.cut).toBeUndefined();
      expect(r.layout.sockets).toBe(sockets);
      // More processes than one: the split that lets (e) go past one process's open-file limit.
      expect(r.layout.workers).toBe(Math.ceil(sockets / SCALE_QUICK.socketsPerWorker));
      expect(Object.keys(r.parts)).toEqual(['e1', 'e2']);
      for (const part of Object.values(r.parts)) {
        expect(part.connectFailures).toBe(0);
        expect(part.connections).toBe(sockets);
        expect(part.timedOut).toBe(false);
        expect(part.expected).toBeGreaterThan(0);
        expect(part.delivered).toBe(part.expected);
        expect(part.duplicated).toBe(0);
        expect(part.misrouted).toBe(0);
        expect(part.otherFrames).toBe(0);
        // Latencies measured across processes (CLOCK_MONOTONIC) are positive and ordered.
        const l = part.latencyMs!;
        expect(l.p50).toBeGreaterThan(0);
        expect(l.p50).toBeLessThanOrEqual(l.p99);
        expect(l.p99).toBeLessThanOrEqual(l.max);
        expect(part.server?.rssPerConnectionKiB).toBeDefined();
      }
      // e1: the big room's 2 senders, each message to every member.
      expect(r.parts.e1.expected).toBe(SCALE_QUICK.bigRoom * r.parts.e1.toSend);
      expect(r.parts.e2.expected).toBe(SCALE_QUICK.smallRoomSize * r.parts.e2.toSend);
    },
  );

  it('(e) is cut to the open-file limit, small rooms first, and says why', () => {
    const { layout, cut } = planLayout(
      { ...SCALE_QUICK, bigRoom: 1000, smallRooms: 100, smallRoomSize: 100 },
      3000,
    );
    expect(layout.bigRoom).toBe(1000);
    expect(layout.smallRooms).toBe(20);
    expect(cut).toMatch(/3,000 sockets, 20 rooms of 100 instead of 100: --scale-sockets 3000/);
    expect(() => planLayout({ ...SCALE_QUICK, bigRoom: 10_000 }, 5000)).toThrow(/open files per process/);
  });

  it('drives Socket.IO with the same clients (Engine.IO framing, rooms from the query)', async () => {
    const target = TARGETS.find((t) => t.name === 'socketio')!;
    expect(target.unavailable()).toBeNull();
    const running = await target.start({});
    try {
      const load = quick('b');
      const r = await runLoad({ ...load, urls: running.urls, protocol: running.protocol });
      expectClean(r, load.rooms * load.clientsPerRoom);
      expect(r.expected).toBe(
        load.rooms * load.clientsPerRoom * load.sendersPerRoom * load.messagesPerSender,
      );
    } finally {
      await running.stop();
    }
  });
});
