import type { LoadOptions } from './load';
import { SCALE_FULL, SCALE_QUICK, type ScaleOptions } from './scale';

export type ScenarioLoad = Omit<LoadOptions, 'urls' | 'pids' | 'sideLoad' | 'headers'>;

export interface Scenario {
  id: string;
  title: string;
  full: ScenarioLoad;
  quick: ScenarioLoad;
  /** Concurrent logins fired during the run (live targets only). */
  logins?: { full: number; quick: number; delayMs: number };
  /**
   * Latency scenarios measure a settled server, not one just booted: the quick load first (JIT,
   * first queries), then a pause longer than V8's memory reducer delay (8 s after the first full GC),
   * whose one-off compaction would otherwise land inside the measured run. Same for every target.
   */
  warmup?: { settleMs: number };
  /**
   * Run by bench/scale.ts instead of the one-process load generator: its broadcast phases are
   * reported as rows of their own (`parts`), and only single-instance targets take part.
   */
  scale?: { full: ScaleOptions; quick: ScaleOptions; parts: string[]; targets: string[] };
}

const paced: ScenarioLoad = {
  rooms: 10,
  clientsPerRoom: 20,
  sendersPerRoom: 2,
  messagesPerSender: 60,
  ratePerSender: 5,
};
const pacedQuick: ScenarioLoad = {
  rooms: 2,
  clientsPerRoom: 5,
  sendersPerRoom: 2,
  messagesPerSender: 10,
  ratePerSender: 10,
};

export const SCENARIOS: Scenario[] = [
  {
    id: 'a',
    title: '1 room × 100 clients × 5 senders × 200 msgs (window 16)',
    full: { rooms: 1, clientsPerRoom: 100, sendersPerRoom: 5, messagesPerSender: 200, window: 16 },
    quick: { rooms: 1, clientsPerRoom: 20, sendersPerRoom: 2, messagesPerSender: 20, window: 8 },
  },
  {
    id: 'b',
    title: '50 rooms × 20 clients × 2 senders × 50 msgs (window 16)',
    full: { rooms: 50, clientsPerRoom: 20, sendersPerRoom: 2, messagesPerSender: 50, window: 16 },
    quick: { rooms: 5, clientsPerRoom: 5, sendersPerRoom: 2, messagesPerSender: 10, window: 8 },
  },
  {
    id: 'c',
    title: '10,000 idle sockets over 100 rooms',
    full: {
      rooms: 100,
      clientsPerRoom: 100,
      sendersPerRoom: 0,
      messagesPerSender: 0,
      connectConcurrency: 100,
      settleMs: 1500,
    },
    quick: { rooms: 10, clientsPerRoom: 20, sendersPerRoom: 0, messagesPerSender: 0, settleMs: 200 },
  },
  {
    id: 'd',
    title: '10 rooms × 20 clients, 2 senders/room paced at 5 msgs/s × 60',
    full: paced,
    quick: pacedQuick,
    warmup: { settleMs: 10_000 },
  },
  {
    id: 'login',
    title: '(d) + 50 concurrent logins (PBKDF2, 1,000,000 iterations) 1 s in',
    full: paced,
    quick: pacedQuick,
    logins: { full: 50, quick: 5, delayMs: 1000 },
    warmup: { settleMs: 10_000 },
  },
  {
    id: 'e',
    title:
      '100,000+ sockets on one instance: 1 room of 10,000 and 1,000 rooms of 100 open at once; e1 = the big room broadcasts (4 senders), e2 = every small room does (1 sender each); window 4, about 2,000,000 deliveries per phase',
    // The one-process generator's shape is unused: bench/scale.ts lays (e) out itself.
    full: { rooms: 0, clientsPerRoom: 0, sendersPerRoom: 0, messagesPerSender: 0 },
    quick: { rooms: 0, clientsPerRoom: 0, sendersPerRoom: 0, messagesPerSender: 0 },
    scale: {
      full: SCALE_FULL,
      quick: SCALE_QUICK,
      parts: ['e1', 'e2'],
      targets: ['live', 'baseline', 'socketio'],
    },
  },
];
