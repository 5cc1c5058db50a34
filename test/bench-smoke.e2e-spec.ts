import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startBaseline, type BaselineServer } from '../bench/baseline-server';
import { runLoad, type LoadResult } from '../bench/load';
import { SCENARIOS } from '../bench/scenarios';
import { LIVE_BENCH_ENV } from '../bench/targets';
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
});
