/**
 * The load generator: `ws` clients in this process, rooms filled with a bounded connect
 * concurrency, senders that send as fast as an in-flight window allows or at a fixed rate, and
 * receivers that check every message (lost, duplicated, misrouted) and time it.
 *
 * A message's text is `B<room>:<sender>:<seq>:<sent µs>`; the send time comes from
 * performance.now() (a monotonic hrtime clock) of this same process, so latency needs no clock sync.
 * The server echoes it as `<name> B…`; the sender's own copy closes its in-flight slot.
 *
 * `protocol: 'socketio'` speaks Engine.IO v4 / Socket.IO v4 over the same `ws` clients (the room in
 * the handshake query, texts as `message` events), so the load generator costs the same per frame.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { BenchClient, chatUrl, matchBenchText, openBenchSocket } from './bench-client';
import { ProcSample, sampleProcesses } from './proc-stats';

export interface LoadOptions {
  /** Base URLs of the server(s), `ws://host:port`; clients are spread over them round-robin. */
  urls: string[];
  rooms: number;
  clientsPerRoom: number;
  sendersPerRoom: number;
  messagesPerSender: number;
  /** Messages a sender may have sent and not yet seen echoed (window mode). Default 16. */
  window?: number;
  /** When set, each sender sends this many messages per second instead (paced mode). */
  ratePerSender?: number;
  /** Sockets opening at once. Default 200. */
  connectConcurrency?: number;
  /** Room names are `<prefix>-<n>`; a fresh random prefix by default, so runs never share a room. */
  roomPrefix?: string;
  /** Hard bound on the message phase. Default 120 s. */
  timeoutMs?: number;
  /** The message phase ends when nothing arrived for this long (lost messages). Default 5 s. */
  idleMs?: number;
  /** Per-socket connect timeout. Default 15 s. */
  connectTimeoutMs?: number;
  /** No new socket is started after this long; the rest count as failures. Default 60 s. */
  connectDeadlineMs?: number;
  /** Server processes to sample in /proc (RSS, CPU). */
  pids?: number[];
  /** Wait after connecting before the RSS sample (the idle scenario lets the heap settle). */
  settleMs?: number;
  /** Extra work started this long after the first send (the login burst); its result is reported. */
  sideLoad?: { delayMs: number; run: () => Promise<Record<string, unknown>> };
  /** Extra headers for every socket (a session cookie, an Origin). */
  headers?: Record<string, string>;
  /**
   * `plain` (default): `/chat/<room>/`, one text frame per message. `socketio`:
   * `/socket.io/?EIO=4&transport=websocket&room=<room>`, Engine.IO v4 framing (`0` open → `40`
   * connect, `2` ping → `3` pong), messages as `42["message","<text>"]` both ways.
   */
  protocol?: 'plain' | 'socketio';
}

export interface LatencyStats {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  connections: number;
  connectFailures: number;
  firstConnectError?: string;
  connectSeconds: number;
  connectsPerSec: number;
  sent: number;
  /** Messages the senders were to send, and deliveries expected (each to every client of its room). */
  toSend: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  misrouted: number;
  /** Frames that are neither the welcome nor a bench message (history lines, other protocols). */
  otherFrames: number;
  /** Sockets the server closed during the run, by close code. */
  closedByServer: Record<string, number>;
  messageSeconds: number;
  deliveriesPerSec: number;
  latencyMs: LatencyStats | null;
  timedOut: boolean;
  server: {
    idleRssKiB: number;
    connectedRssKiB: number;
    rssPerConnectionKiB: number;
    cpuSecondsConnect: number;
    cpuSecondsMessages: number;
  } | null;
  loadgenCpuSeconds: number;
  side?: Record<string, unknown>;
}

type Client = BenchClient;

function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function latencyStats(values: Float64Array): LatencyStats | null {
  if (values.length === 0) return null;
  const sorted = values.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    p50: r(percentile(sorted, 50)),
    p90: r(percentile(sorted, 90)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted[sorted.length - 1]),
    mean: r(sum / sorted.length),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const o = {
    window: 16,
    connectConcurrency: 200,
    roomPrefix: `bench-${randomBytes(4).toString('hex')}`,
    timeoutMs: 120_000,
    idleMs: 5_000,
    connectTimeoutMs: 15_000,
    connectDeadlineMs: 60_000,
    pids: [] as number[],
    settleMs: 0,
    ...options,
  };
  if (o.urls.length === 0) throw new Error('runLoad needs at least one server URL');
  if (o.sendersPerRoom > o.clientsPerRoom) throw new Error('more senders than clients in a room');
  const S = o.sendersPerRoom;
  const M = o.messagesPerSender;
  const total = o.rooms * o.clientsPerRoom;
  let expected = 0;
  let latencies = new Float64Array(0);
  const clients: Client[] = [];
  const closedByServer: Record<string, number> = {};
  let delivered = 0;
  let duplicated = 0;
  let misrouted = 0;
  let otherFrames = 0;
  let sent = 0;
  let lastDelivery = 0;
  let finishing = false;
  let onProgress: () => void = () => undefined;

  const loadgenCpu0 = process.cpuUsage();
  const idle: ProcSample | null = sampleProcesses(o.pids);

  const pump = (c: Client) => {
    if (c.sender < 0 || o.ratePerSender) return;
    while (c.inFlight < o.window && c.nextSeq < M && c.ws.readyState === WebSocket.OPEN) {
      c.send(`B${c.room}:${c.sender}:${c.nextSeq++}:${nowMicros()}`);
      c.inFlight++;
      sent++;
    }
  };

  const onMessage = (c: Client, text: string) => {
    if (!c.welcomed) {
      c.welcomed = true;
      return;
    }
    const m = matchBenchText(text);
    if (!m) {
      otherFrames++;
      return;
    }
    const room = Number(m[1]);
    const sender = Number(m[2]);
    const seq = Number(m[3]);
    if (room !== c.room || sender >= S || seq >= M) {
      misrouted++;
      return;
    }
    const slot = sender * M + seq;
    if (c.seen[slot]++ > 0) {
      duplicated++;
      return;
    }
    const t = performance.now();
    latencies[delivered++] = t - Number(m[4]) / 1000;
    lastDelivery = t;
    if (sender === c.sender) {
      c.inFlight--;
      pump(c);
    }
    if (delivered === expected) onProgress();
  };

  // Connect phase: at most connectConcurrency handshakes at once; a socket counts once welcomed.
  const events = {
    onText: (c: Client, text: string) => onMessage(c, text),
    onOther: () => otherFrames++,
    onClose: (code: number) => {
      if (!finishing) closedByServer[code] = (closedByServer[code] ?? 0) + 1;
    },
  };
  const connectOne = (room: number, index: number, urlIndex: number): Promise<Client> =>
    openBenchSocket(
      {
        url: chatUrl(o.urls[urlIndex % o.urls.length], `${o.roomPrefix}-${room}`, o.protocol),
        protocol: o.protocol,
        headers: o.headers,
        timeoutMs: o.connectTimeoutMs,
        room,
        sender: index < S ? index : -1,
        slots: S * M,
      },
      events,
    );

  let failures = 0;
  let firstConnectError: string | undefined;
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      if (performance.now() - t0 > o.connectDeadlineMs) {
        failures += total - next;
        firstConnectError ??= `connect phase over ${o.connectDeadlineMs} ms`;
        next = total;
        return;
      }
      const i = next++;
      const room = i % o.rooms;
      const index = Math.floor(i / o.rooms);
      try {
        clients.push(await connectOne(room, index, index));
      } catch (err) {
        failures++;
        firstConnectError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.connectConcurrency, total) }, worker));
  const connectSeconds = (performance.now() - t0) / 1000;
  if (o.settleMs > 0) await sleep(o.settleMs);
  const connected = sampleProcesses(o.pids);

  // Message phase: every connected client of a room expects every message of its connected senders.
  const sendersIn = new Array<number>(o.rooms).fill(0);
  const clientsIn = new Array<number>(o.rooms).fill(0);
  for (const c of clients) {
    clientsIn[c.room]++;
    if (c.sender >= 0) sendersIn[c.room]++;
  }
  for (let r = 0; r < o.rooms; r++) expected += clientsIn[r] * sendersIn[r] * M;
  const toSend = sendersIn.reduce((a, b) => a + b, 0) * M;
  latencies = new Float64Array(expected);
  let timedOut = false;
  let messageSeconds = 0;
  let sideResult: Promise<Record<string, unknown>> | undefined;
  const tSend = performance.now();
  if (expected > 0) {
    const timers: NodeJS.Timeout[] = [];
    const done = new Promise<void>((resolve) => {
      onProgress = resolve;
      const hard = setTimeout(() => {
        timedOut = true;
        resolve();
      }, o.timeoutMs);
      let lastSeen = -1;
      let lastChange = performance.now();
      const watchdog = setInterval(() => {
        if (delivered !== lastSeen) {
          lastSeen = delivered;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > o.idleMs) resolve();
      }, 100);
      timers.push(hard, watchdog);
    });
    if (o.sideLoad) {
      const side = o.sideLoad;
      sideResult = sleep(side.delayMs).then(() => side.run());
    }
    const senders = clients.filter((c) => c.sender >= 0);
    if (o.ratePerSender) {
      const period = 1000 / o.ratePerSender;
      for (const c of senders) {
        // Spread the senders over one period so the load is steady, not synchronized bursts.
        const start = setTimeout(() => {
          const tick = () => {
            if (c.nextSeq >= M || c.ws.readyState !== WebSocket.OPEN) return clearInterval(iv);
            c.send(`B${c.room}:${c.sender}:${c.nextSeq++}:${nowMicros()}`);
            sent++;
          };
          const iv = setInterval(tick, period);
          timers.push(iv);
          tick();
        }, Math.random() * period);
        timers.push(start);
      }
    } else {
      for (const c of senders) pump(c);
    }
    await done;
    for (const t of timers) clearTimeout(t);
    messageSeconds = ((lastDelivery || performance.now()) - tSend) / 1000;
  }
  const after = sampleProcesses(o.pids);
  const side = sideResult ? await sideResult : undefined;

  finishing = true;
  for (const c of clients) c.ws.terminate();
  const cpu = process.cpuUsage(loadgenCpu0);

  const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    connections: clients.length,
    connectFailures: failures,
    ...(firstConnectError ? { firstConnectError } : {}),
    connectSeconds: round(connectSeconds, 3),
    connectsPerSec: round(clients.length / connectSeconds, 0),
    sent,
    toSend,
    expected,
    delivered,
    lost: expected - delivered,
    duplicated,
    misrouted,
    otherFrames,
    closedByServer,
    messageSeconds: round(messageSeconds, 3),
    deliveriesPerSec: messageSeconds > 0 ? round(delivered / messageSeconds, 0) : 0,
    latencyMs: latencyStats(latencies.subarray(0, delivered)),
    timedOut,
    server:
      idle && connected && after
        ? {
            idleRssKiB: idle.rssKiB,
            connectedRssKiB: connected.rssKiB,
            rssPerConnectionKiB:
              clients.length > 0 ? round((connected.rssKiB - idle.rssKiB) / clients.length, 2) : 0,
            cpuSecondsConnect: round(connected.cpuSeconds - idle.cpuSeconds, 2),
            cpuSecondsMessages: round(after.cpuSeconds - connected.cpuSeconds, 2),
          }
        : null,
    loadgenCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
    ...(side ? { side } : {}),
  };
}
