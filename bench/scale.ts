/**
 * Scenario (e): many sockets on one instance. One room of 10,000 and 1,000 rooms of 100 (110,000
 * sockets) are opened at once by several load-generator processes (bench/scale-worker.ts), from
 * several loopback source addresses; then the big room broadcasts, then the small rooms do. Each
 * broadcast phase is reported as its own row (e1, e2) with the connect figures they share.
 *
 * A process can hold no more sockets than its open-file limit (`ulimit -n`): the server as much as
 * each worker. When the hard limit here is below what the layout needs, the small rooms are cut
 * (never the big room) and the run says so; the operator raises the limit (systemd's LimitNOFILE,
 * `ulimit -n`) to hold more.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadResult } from './load';
import { sampleProcesses, type ProcSample } from './proc-stats';
import {
  BUCKETS,
  bucketMs,
  type FromWorker,
  type ScaleLayout,
  type ScaleRoom,
  type ToWorker,
} from './scale-worker';

export interface ScaleOptions {
  /** Members of the big room. */
  bigRoom: number;
  bigSenders: number;
  /** Rooms of `smallRoomSize` (cut to fit the open-file limit). */
  smallRooms: number;
  smallRoomSize: number;
  smallSenders: number;
  /** Deliveries each phase aims at; messages per sender follow from it. */
  deliveriesPerPhase: number;
  window: number;
  /** Sockets per load-generator process (each under its own open-file limit). */
  socketsPerWorker: number;
  connectConcurrencyPerWorker: number;
  /** Source addresses spread over the sockets; empty for the kernel's choice. */
  sourceAddresses: string[];
  /** Idle time after connecting before memory is sampled, and the idle-CPU window. */
  settleMs: number;
}

export interface ScaleRunOptions {
  urls: string[];
  pids: number[];
  protocol?: 'plain' | 'socketio';
  headers?: Record<string, string>;
  /** Caps the total (e.g. a smaller run to see what grows with the socket count). */
  maxSockets?: number;
}

export interface ScaleResult {
  /** One LoadResult per broadcast phase, keyed by the row's scenario id. */
  parts: Record<string, LoadResult>;
  layout: { sockets: number; bigRoom: number; smallRooms: number; smallRoomSize: number; workers: number };
  /** Why the layout is smaller than asked, if it is. */
  cut?: string;
  /** Server CPU while every socket sat idle (heartbeats, timers), µs per socket per second. */
  idleCpuUsPerSocketSecond: number | null;
  /** Server CPU per accepted socket during the connect phase, µs (handshake, join, presence). */
  connectCpuUsPerSocket: number | null;
}

export const SCALE_FULL: ScaleOptions = {
  bigRoom: 10_000,
  bigSenders: 4,
  smallRooms: 1_000,
  smallRoomSize: 100,
  smallSenders: 1,
  deliveriesPerPhase: 2_000_000,
  window: 4,
  socketsPerWorker: 15_000,
  connectConcurrencyPerWorker: 50,
  sourceAddresses: ['2', '3', '4', '5', '6', '7', '8', '9'].map((n) => `127.0.0.${n}`),
  settleMs: 5_000,
};

export const SCALE_QUICK: ScaleOptions = {
  ...SCALE_FULL,
  bigRoom: 500,
  bigSenders: 2,
  smallRooms: 10,
  smallRoomSize: 50,
  deliveriesPerPhase: 20_000,
  socketsPerWorker: 300,
  settleMs: 500,
};

/** The open-file limits of this process (the server and workers inherit them). */
export function openFileLimits(): { soft: number; hard: number } {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
      readFileSync('/proc/self/limits', 'utf8'),
    );
    const n = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
    return m ? { soft: n(m[1]), hard: n(m[2]) } : { soft: NaN, hard: NaN };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/** What the server may hold besides sockets: its database, Redis, log and module files. */
const SERVER_FD_MARGIN = 300;

export function planLayout(o: ScaleOptions, maxSockets?: number): { layout: ScaleOptions; cut?: string } {
  const want = o.bigRoom + o.smallRooms * o.smallRoomSize;
  const { soft } = openFileLimits();
  const fit = Math.min(maxSockets ?? Infinity, Number.isFinite(soft) ? soft - SERVER_FD_MARGIN : Infinity);
  if (want <= fit) return { layout: o };
  const smallRooms = Math.max(0, Math.floor((fit - o.bigRoom) / o.smallRoomSize));
  if (fit < o.bigRoom + o.smallRoomSize)
    throw new Error(
      `scenario (e) needs at least ${o.bigRoom + o.smallRoomSize + SERVER_FD_MARGIN} open files per process; ` +
        `the limit is ${soft} (raise it: ulimit -n ${want + 1000})`,
    );
  const why =
    maxSockets !== undefined && maxSockets < soft - SERVER_FD_MARGIN
      ? `--scale-sockets ${maxSockets}`
      : `the open-file limit here is ${soft} per process (hard limit ${openFileLimits().hard}, not raisable ` +
        `without CAP_SYS_RESOURCE); the server needs one per socket, so ${want.toLocaleString('en-US')} sockets ` +
        `need ulimit -n ≥ ${(want + 1000).toLocaleString('en-US')}`;
  return {
    layout: { ...o, smallRooms },
    cut: `${(o.bigRoom + smallRooms * o.smallRoomSize).toLocaleString('en-US')} sockets, ${smallRooms} rooms of ${o.smallRoomSize} instead of ${o.smallRooms}: ${why}`,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class Worker {
  readonly proc: ChildProcess;
  private waiters: Array<(m: FromWorker) => boolean> = [];
  delivered = 0;
  private exitError: Error | null = null;

  constructor() {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    this.proc = fork(resolve(__dirname, 'scale-worker.ts'), [], {
      execArgv: ['-r', 'ts-node/register/transpile-only', '--max-old-space-size=4096'],
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: FromWorker) => {
      if (m.type === 'progress') this.delivered = m.delivered;
      this.waiters = this.waiters.filter((w) => !w(m));
    });
    this.proc.on('exit', (code, signal) => {
      this.exitError = new Error(`a load-generator process exited (code ${code}, signal ${signal})`);
    });
  }

  send(m: ToWorker): void {
    if (this.exitError) throw this.exitError;
    this.proc.send(m);
  }

  next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`no '${type}' from a load-generator process in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push((m) => {
        if (m.type !== type) return false;
        clearTimeout(timer);
        res(m as Extract<FromWorker, { type: T }>);
        return true;
      });
    });
  }

  stop(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      try {
        this.proc.send({ type: 'close' } satisfies ToWorker);
      } catch {
        /* already gone */
      }
      setTimeout(() => this.proc.kill('SIGKILL'), 3000).unref();
    }
  }
}

function percentileMs(hist: number[], total: number, p: number): number {
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b];
    if (seen >= rank) return Math.round(bucketMs(b) * 1000) / 1000;
  }
  return NaN;
}

/** Messages per sender so a phase makes about `deliveries` deliveries. */
function messagesFor(deliveries: number, members: number, senders: number): number {
  return Math.max(5, Math.min(2000, Math.round(deliveries / Math.max(1, members * senders))));
}

export async function runScale(o: ScaleOptions, run: ScaleRunOptions): Promise<ScaleResult> {
  const { layout: plan, cut } = planLayout(o, run.maxSockets);
  const rooms: ScaleRoom[] = [
    {
      size: plan.bigRoom,
      senders: plan.bigSenders,
      messages: messagesFor(plan.deliveriesPerPhase, plan.bigRoom, plan.bigSenders),
      window: plan.window,
      phase: 'e1',
    },
  ];
  const smallMessages = messagesFor(
    plan.deliveriesPerPhase,
    plan.smallRooms * plan.smallRoomSize,
    plan.smallSenders,
  );
  for (let r = 0; r < plan.smallRooms; r++)
    rooms.push({
      size: plan.smallRoomSize,
      senders: plan.smallSenders,
      messages: smallMessages,
      window: plan.window,
      phase: 'e2',
    });
  const sockets = rooms.reduce((a, r) => a + r.size, 0);
  const workerCount = Math.max(1, Math.ceil(sockets / plan.socketsPerWorker));
  const layout: ScaleLayout = {
    urls: run.urls,
    roomPrefix: `scale-${randomBytes(4).toString('hex')}`,
    rooms,
    workers: workerCount,
    sourceAddresses: plan.sourceAddresses,
    protocol: run.protocol,
    headers: run.headers,
  };
  const workers = Array.from({ length: workerCount }, () => new Worker());
  const log = (s: string) => process.stderr.write(`bench (e): ${s}\n`);
  try {
    // Started (and compiled by ts-node) before the clock runs, so the connect rate is the server's.
    const ready = Promise.all(workers.map((w) => w.next('ready', 60_000)));
    workers.forEach((w, i) => w.send({ type: 'init', worker: i, layout }));
    await ready;
    log(
      `${sockets.toLocaleString('en-US')} sockets (1 room of ${plan.bigRoom}, ${plan.smallRooms} of ${plan.smallRoomSize}) ` +
        `from ${workerCount} processes${cut ? ` — cut: ${cut}` : ''}`,
    );
    const idle = sampleProcesses(run.pids);
    const t0 = performance.now();
    const connectedP = Promise.all(workers.map((w) => w.next('connected', 600_000)));
    workers.forEach((w) =>
      w.send({
        type: 'connect',
        concurrency: plan.connectConcurrencyPerWorker,
        timeoutMs: 30_000,
        deadlineMs: 300_000,
      }),
    );
    const connected = await connectedP;
    const connectSeconds = (performance.now() - t0) / 1000;
    const afterConnect = sampleProcesses(run.pids);
    const total = connected.reduce((a, c) => a + c.connected, 0);
    const failures = connected.reduce((a, c) => a + c.failures, 0);
    const firstConnectError = connected.find((c) => c.firstError)?.firstError;
    log(
      `connected ${total.toLocaleString('en-US')} in ${connectSeconds.toFixed(1)} s, ${failures} failed` +
        (firstConnectError ? ` (first: ${firstConnectError})` : ''),
    );
    // Idle: memory once the heap settles, and what the server spends on sockets that do nothing.
    await sleep(plan.settleMs);
    const settled = sampleProcesses(run.pids);
    await sleep(plan.settleMs);
    const idleEnd = sampleProcesses(run.pids);
    const perRoom = rooms.map((_, r) => connected.reduce((a, c) => a + c.perRoom[r], 0));
    const sendersPerRoom = rooms.map((_, r) => connected.reduce((a, c) => a + c.sendersPerRoom[r], 0));

    const parts: Record<string, LoadResult> = {};
    for (const phase of ['e1', 'e2']) {
      let expected = 0;
      let toSend = 0;
      rooms.forEach((room, r) => {
        if (room.phase !== phase) return;
        expected += perRoom[r] * sendersPerRoom[r] * room.messages;
        toSend += sendersPerRoom[r] * room.messages;
      });
      if (expected === 0) continue;
      const before = sampleProcesses(run.pids);
      const cpu0 = process.cpuUsage();
      workers.forEach((w) => (w.delivered = 0));
      workers.forEach((w) => w.send({ type: 'run', phase }));
      let timedOut = false;
      const hardEnd = Date.now() + 180_000;
      let last = -1;
      let lastChange = Date.now();
      for (;;) {
        await sleep(100);
        const got = workers.reduce((a, w) => a + w.delivered, 0);
        if (got >= expected) break;
        if (got !== last) {
          last = got;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > 5_000) break;
        if (Date.now() > hardEnd) {
          timedOut = true;
          break;
        }
      }
      const resultsP = Promise.all(workers.map((w) => w.next('result', 30_000)));
      workers.forEach((w) => w.send({ type: 'finish' }));
      const results = await resultsP;
      const after = sampleProcesses(run.pids);
      const delivered = results.reduce((a, r) => a + r.delivered, 0);
      const hist = new Array<number>(BUCKETS).fill(0);
      for (const r of results) r.histogram.forEach((n, b) => (hist[b] += n));
      const firstSend = Math.min(...results.map((r) => r.firstSendUs).filter((t) => t > 0));
      const lastDelivery = Math.max(...results.map((r) => r.lastDeliveryUs));
      const messageSeconds = delivered > 0 ? (lastDelivery - firstSend) / 1e6 : 0;
      const closedByServer: Record<string, number> = {};
      for (const r of results)
        for (const [code, n] of Object.entries(r.closedByServer))
          closedByServer[code] = (closedByServer[code] ?? 0) + n;
      const cpu = process.cpuUsage(cpu0);
      const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
      const server = (a: ProcSample | null, b: ProcSample | null) =>
        a && b ? b.cpuSeconds - a.cpuSeconds : NaN;
      parts[phase] = {
        connections: total,
        connectFailures: failures,
        ...(firstConnectError ? { firstConnectError } : {}),
        connectSeconds: round(connectSeconds, 3),
        connectsPerSec: round(total / connectSeconds, 0),
        sent: results.reduce((a, r) => a + r.sent, 0),
        toSend,
        expected,
        delivered,
        lost: expected - delivered,
        duplicated: results.reduce((a, r) => a + r.duplicated, 0),
        misrouted: results.reduce((a, r) => a + r.misrouted, 0),
        otherFrames: results.reduce((a, r) => a + r.otherFrames, 0),
        closedByServer,
        messageSeconds: round(messageSeconds, 3),
        deliveriesPerSec: messageSeconds > 0 ? round(delivered / messageSeconds, 0) : 0,
        latencyMs:
          delivered > 0
            ? {
                p50: percentileMs(hist, delivered, 50),
                p90: percentileMs(hist, delivered, 90),
                p99: percentileMs(hist, delivered, 99),
                max: percentileMs(hist, delivered, 100),
                mean: NaN,
              }
            : null,
        timedOut,
        server:
          idle && settled && afterConnect
            ? {
                idleRssKiB: idle.rssKiB,
                connectedRssKiB: settled.rssKiB,
                rssPerConnectionKiB: total > 0 ? round((settled.rssKiB - idle.rssKiB) / total, 2) : 0,
                cpuSecondsConnect: round(afterConnect.cpuSeconds - idle.cpuSeconds, 2),
                cpuSecondsMessages: round(server(before, after), 2),
              }
            : null,
        // This process only orders the workers; their CPU is not sampled here.
        loadgenCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
      };
      log(
        `${phase}: ${delivered.toLocaleString('en-US')}/${expected.toLocaleString('en-US')} delivered in ` +
          `${messageSeconds.toFixed(2)} s, p99 ${parts[phase].latencyMs?.p99} ms`,
      );
    }
    const idleSeconds = plan.settleMs / 1000;
    return {
      parts,
      layout: {
        sockets: total,
        bigRoom: plan.bigRoom,
        smallRooms: plan.smallRooms,
        smallRoomSize: plan.smallRoomSize,
        workers: workerCount,
      },
      ...(cut ? { cut } : {}),
      idleCpuUsPerSocketSecond:
        settled && idleEnd && total > 0
          ? Math.round((((idleEnd.cpuSeconds - settled.cpuSeconds) * 1e6) / total / idleSeconds) * 1000) /
            1000
          : null,
      connectCpuUsPerSocket:
        idle && afterConnect && total > 0
          ? Math.round(((afterConnect.cpuSeconds - idle.cpuSeconds) * 1e6) / total)
          : null,
    };
  } finally {
    for (const w of workers) w.stop();
    await sleep(300);
  }
}
