/**
 * One process of scenario (e)'s load generator (bench/scale.ts forks several): a process may hold
 * no more sockets than its open-file limit, so 100,000 client sockets need several of them. It owns
 * every socket whose global index i satisfies i % workers === worker, connects them from a loopback
 * source address of its own choosing (127.0.0.2–127.0.0.9 by i, so no one source address runs out of
 * ephemeral ports), and runs the broadcast phases on the parent's orders.
 *
 * Messages are `B<room>:<sender>:<seq>:<sent µs>`; the send time is CLOCK_MONOTONIC
 * (process.hrtime), the same clock in every process of the machine, so a message sent by one worker
 * and received by another is timed without clock sync. Latencies go into a log histogram (1 %
 * buckets) that the parent merges.
 */
import WebSocket from 'ws';
import { BenchClient, chatUrl, matchBenchText, openBenchSocket, type BenchProtocol } from './bench-client';

export interface ScaleRoom {
  size: number;
  senders: number;
  messages: number;
  window: number;
  /** Which broadcast phase sends in this room. */
  phase: string;
}

export interface ScaleLayout {
  urls: string[];
  roomPrefix: string;
  rooms: ScaleRoom[];
  workers: number;
  /** Source addresses, by global socket index. Empty: let the kernel choose. */
  sourceAddresses: string[];
  protocol?: BenchProtocol;
  headers?: Record<string, string>;
}

export type ToWorker =
  | { type: 'init'; worker: number; layout: ScaleLayout }
  | { type: 'connect'; concurrency: number; timeoutMs: number; deadlineMs: number }
  | { type: 'run'; phase: string }
  | { type: 'finish' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | {
      type: 'connected';
      connected: number;
      failures: number;
      firstError?: string;
      perRoom: number[];
      sendersPerRoom: number[];
    }
  | { type: 'progress'; delivered: number }
  | {
      type: 'result';
      delivered: number;
      duplicated: number;
      misrouted: number;
      otherFrames: number;
      sent: number;
      firstSendUs: number;
      lastDeliveryUs: number;
      histogram: number[];
      closedByServer: Record<string, number>;
    };

/** Histogram bucket of a latency in µs: 1 % wide, bucket 0 for anything under 1 µs. */
export const BUCKET_BASE = Math.log(1.01);
export const BUCKETS = 2200; // 1.01^2200 µs ≈ 3·10^9 µs: nothing real falls off the end
export const bucketOf = (us: number): number =>
  us < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(us) / BUCKET_BASE));
/** A bucket's representative value in ms (its geometric middle). */
export const bucketMs = (b: number): number => (b === 0 ? 0 : Math.exp((b - 0.5) * BUCKET_BASE) / 1000);

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

type Client = BenchClient;

function main(): void {
  let worker = 0;
  let layout: ScaleLayout | undefined;
  const clients: Client[] = [];
  const byRoom = new Map<number, Client[]>();
  let phase: string | null = null;
  let delivered = 0;
  let duplicated = 0;
  let misrouted = 0;
  let otherFrames = 0;
  let sent = 0;
  let firstSendUs = 0;
  let lastDeliveryUs = 0;
  let histogram = new Array<number>(BUCKETS).fill(0);
  let closing = false;
  const closedByServer: Record<string, number> = {};
  let progressTimer: NodeJS.Timeout | undefined;

  const reply = (m: FromWorker) => process.send?.(m);

  const pump = (c: Client) => {
    const room = layout!.rooms[c.room];
    while (c.inFlight < room.window && c.nextSeq < room.messages && c.ws.readyState === WebSocket.OPEN) {
      const t = nowUs();
      if (firstSendUs === 0) firstSendUs = t;
      c.send(`B${c.room}:${c.sender}:${c.nextSeq++}:${t}`);
      c.inFlight++;
      sent++;
    }
  };

  const onMessage = (c: Client, text: string): void => {
    if (!c.welcomed) {
      c.welcomed = true;
      return;
    }
    const m = matchBenchText(text);
    if (!m) {
      otherFrames++;
      return;
    }
    const roomIndex = Number(m[1]);
    const sender = Number(m[2]);
    const seq = Number(m[3]);
    const room = layout!.rooms[c.room];
    if (roomIndex !== c.room || sender >= room.senders || seq >= room.messages) {
      misrouted++;
      return;
    }
    if (c.seen[sender * room.messages + seq]++ > 0) {
      duplicated++;
      return;
    }
    const t = nowUs();
    histogram[bucketOf(t - Number(m[4]))]++;
    delivered++;
    lastDeliveryUs = t;
    if (sender === c.sender) {
      c.inFlight--;
      if (phase === room.phase) pump(c);
    }
  };

  const events = {
    onText: (c: Client, text: string) => onMessage(c, text),
    onOther: () => otherFrames++,
    onClose: (code: number) => {
      if (!closing) closedByServer[code] = (closedByServer[code] ?? 0) + 1;
    },
  };
  const connectOne = (index: number, room: number, member: number, timeoutMs: number): Promise<Client> => {
    const l = layout!;
    const spec = l.rooms[room];
    return openBenchSocket(
      {
        url: chatUrl(l.urls[index % l.urls.length], `${l.roomPrefix}-${room}`, l.protocol),
        protocol: l.protocol,
        headers: l.headers,
        localAddress: l.sourceAddresses.length
          ? l.sourceAddresses[index % l.sourceAddresses.length]
          : undefined,
        timeoutMs,
        room,
        sender: member < spec.senders ? member : -1,
        slots: spec.senders * spec.messages,
      },
      events,
    );
  };

  const connectAll = async (concurrency: number, timeoutMs: number, deadlineMs: number) => {
    const l = layout!;
    // The global socket index runs over the rooms in order; this worker owns i % workers === worker.
    const mine: Array<[number, number, number]> = [];
    let i = 0;
    l.rooms.forEach((room, r) => {
      for (let member = 0; member < room.size; member++, i++)
        if (i % l.workers === worker) mine.push([i, r, member]);
    });
    let next = 0;
    let failures = 0;
    let firstError: string | undefined;
    const t0 = Date.now();
    const run = async () => {
      while (next < mine.length) {
        if (Date.now() - t0 > deadlineMs) {
          failures += mine.length - next;
          firstError ??= `connect phase over ${deadlineMs} ms`;
          next = mine.length;
          return;
        }
        const [index, room, member] = mine[next++];
        try {
          const c = await connectOne(index, room, member, timeoutMs);
          clients.push(c);
          let list = byRoom.get(room);
          if (!list) byRoom.set(room, (list = []));
          list.push(c);
        } catch (err) {
          failures++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, mine.length) }, run));
    const perRoom = l.rooms.map((_, r) => byRoom.get(r)?.length ?? 0);
    const sendersPerRoom = l.rooms.map((_, r) => byRoom.get(r)?.filter((c) => c.sender >= 0).length ?? 0);
    reply({
      type: 'connected',
      connected: clients.length,
      failures,
      ...(firstError ? { firstError } : {}),
      perRoom,
      sendersPerRoom,
    });
  };

  process.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'init':
        worker = m.worker;
        layout = m.layout;
        reply({ type: 'ready' });
        break;
      case 'connect':
        void connectAll(m.concurrency, m.timeoutMs, m.deadlineMs);
        break;
      case 'run':
        phase = m.phase;
        delivered = duplicated = misrouted = otherFrames = sent = 0;
        firstSendUs = lastDeliveryUs = 0;
        histogram = new Array<number>(BUCKETS).fill(0);
        progressTimer = setInterval(() => reply({ type: 'progress', delivered }), 100);
        layout!.rooms.forEach((room, r) => {
          if (room.phase !== m.phase) return;
          for (const c of byRoom.get(r) ?? []) if (c.sender >= 0) pump(c);
        });
        break;
      case 'finish':
        clearInterval(progressTimer);
        phase = null;
        reply({
          type: 'result',
          delivered,
          duplicated,
          misrouted,
          otherFrames,
          sent,
          firstSendUs,
          lastDeliveryUs,
          histogram,
          closedByServer: { ...closedByServer },
        });
        break;
      case 'close':
        closing = true;
        for (const c of clients) c.ws.terminate();
        setTimeout(() => process.exit(0), 200);
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) main();
