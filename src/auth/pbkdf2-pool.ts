import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { Logger } from '@nestjs/common';

/**
 * The worker's whole program, run with `eval` so the same code works from ts-jest and from dist/.
 * On Linux a thread can lower its own priority (nice and the scheduling policy are per thread
 * there): it finds its thread id through /proc/thread-self, raises its nice value to 19, then asks
 * util-linux's `chrt` for SCHED_IDLE. Under SCHED_IDLE a waking event loop preempts the thread at
 * once and the kernel counts its CPU as idle when it places a woken thread; at nice 19 alone a
 * wake-up could wait for the next scheduler tick (bench/RESULTS.md, note 2). It then reports what
 * the kernel shows for the thread (/proc/thread-self/stat), not what it asked for.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { pbkdf2Sync } = require('node:crypto');
const fs = require('node:fs');
const report = { ready: true, tid: null, nice: null, policy: null, problem: null };
try {
  const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
  report.tid = tid;
  require('node:os').setPriority(tid, workerData.nice);
  if (workerData.idlePolicy) {
    try {
      require('node:child_process').execFileSync(workerData.chrt, ['--idle', '-p', '0', String(tid)], {
        stdio: 'ignore',
        timeout: 5000,
      });
    } catch (err) {
      report.problem = workerData.chrt + ' --idle -p 0 ' + tid + ': ' + (err.code || err.message);
    }
  }
  // Fields after the command name (which may hold spaces): nice is field 19, policy field 41.
  const fields = fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ').pop().split(' ');
  report.nice = Number(fields[16]);
  report.policy = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE'][Number(fields[38])] || 'policy ' + fields[38];
} catch {}
parentPort.postMessage(report);
parentPort.on('message', (task) => {
  try {
    const key = pbkdf2Sync(task.password, task.salt, task.iterations, task.keyLength, task.digest);
    parentPort.postMessage({ id: task.id, key });
  } catch (err) {
    parentPort.postMessage({ id: task.id, error: String(err && err.message || err) });
  }
});
`;

interface Task {
  id: number;
  password: string;
  salt: string;
  iterations: number;
  keyLength: number;
  digest: string;
  resolve: (key: Buffer) => void;
  reject: (err: Error) => void;
}

/** What the kernel shows for one hashing thread once it has lowered its priority (Linux only). */
export interface HashingThread {
  tid: number | null;
  nice: number | null;
  /** SCHED_IDLE where `chrt` could set it, else SCHED_OTHER (at nice 19). */
  policy: string | null;
}

export interface Pbkdf2PoolOptions {
  /** Threads hashing at once; by default one core is left to the event loop (see defaultHashThreads). */
  size?: number;
  nice?: number;
  /** Ask for SCHED_IDLE through `chrt` (util-linux) after lowering the nice value. */
  idlePolicy?: boolean;
  /** The `chrt` program; a test may name one that does not exist. */
  chrt?: string;
}

/**
 * One thread fewer than the machine has cores, at least one: a burst of logins then never occupies
 * every CPU, so the event loop (and whatever else the box runs) always finds one free when it
 * wakes. A burst takes longer (50 logins at a million iterations: ≈ 10 s on two cores instead of
 * 5 s); chat p99 during it went from ≈ 2× to ≈ 1.3× of a quiet server's (bench/RESULTS.md).
 */
export function defaultHashThreads(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

interface PoolWorker {
  worker: Worker;
  task: Task | null;
  /** Settles when the thread has started and lowered its priority (or has failed to start). */
  ready: Promise<void>;
}

/**
 * PBKDF2 at a million iterations is ≈ 0.2 s of CPU per login. libuv's thread pool would keep it off
 * the event loop but not off the CPU the event loop needs; these threads run at the lowest priority
 * instead, one core fewer than the machine has, so a login burst uses idle CPU only and chat
 * latency barely moves.
 */
export class Pbkdf2Pool {
  private readonly logger = new Logger('Pbkdf2Pool');
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  /** What each started thread reported about itself (nulls off Linux). */
  private readonly started = new Map<Worker, HashingThread>();
  private warnedProblem = false;
  private readonly nice: number;
  private readonly idlePolicy: boolean;
  private readonly chrt: string;
  private size: number;

  constructor(options: Pbkdf2PoolOptions = {}) {
    this.size = Pbkdf2Pool.checkSize(options.size ?? defaultHashThreads());
    this.nice = options.nice ?? 19;
    this.idlePolicy = options.idlePolicy ?? true;
    this.chrt = options.chrt ?? 'chrt';
  }

  private static checkSize(size: number): number {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`hashing threads must be an integer >= 1, got ${size}`);
    return size;
  }

  /** Threads hashing at once. */
  get threadCount(): number {
    return this.size;
  }

  /** Sets how many threads hash at once (PASSWORD_HASH_THREADS); extra idle threads stop. */
  resize(size: number): void {
    this.size = Pbkdf2Pool.checkSize(size);
    for (const slot of this.workers.filter((w) => w.task === null))
      if (this.workers.length > this.size) this.stop(slot);
    this.dispatch();
  }

  /** Derivations waiting for a free thread (a login burst queues here). */
  get queued(): number {
    return this.queue.length;
  }

  /** Threads hashing right now. */
  get busy(): number {
    return this.workers.filter((w) => w.task !== null).length;
  }

  /** What the kernel shows for each running thread: its nice value and scheduling policy. */
  threads(): HashingThread[] {
    return [...this.started.values()];
  }

  derive(
    password: string,
    salt: string,
    iterations: number,
    keyLength: number,
    digest: string,
  ): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, password, salt, iterations, keyLength, digest, resolve, reject });
      this.dispatch();
    });
  }

  /** Starts every thread now and resolves once each has set its priority. */
  async warm(): Promise<void> {
    const started: Promise<void>[] = [];
    while (this.workers.length < this.size) started.push(this.spawn().ready);
    await Promise.all(started);
  }

  /** Stops every thread; queued and running derivations fail. */
  async close(): Promise<void> {
    const error = new Error('password hashing pool closed');
    for (const task of this.queue.splice(0)) task.reject(error);
    this.started.clear();
    await Promise.all(this.workers.splice(0).map((w) => (w.task?.reject(error), w.worker.terminate())));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.workers.find((w) => w.task === null);
      if (!slot) {
        if (this.workers.length >= this.size) return;
        slot = this.spawn();
      }
      const task = this.queue.shift() as Task;
      slot.task = task;
      slot.worker.ref(); // a hash in flight keeps the process alive (manage commands await it)
      const { resolve: _r, reject: _j, ...message } = task;
      slot.worker.postMessage(message);
    }
  }

  /** Takes an idle thread out of the pool and ends it. */
  private stop(slot: PoolWorker): void {
    this.workers.splice(this.workers.indexOf(slot), 1);
    this.started.delete(slot.worker);
    void slot.worker.terminate();
  }

  private spawn(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { nice: this.nice, idlePolicy: this.idlePolicy, chrt: this.chrt },
    });
    worker.unref(); // idle hashing threads never keep the process alive
    let started = () => {};
    const slot: PoolWorker = { worker, task: null, ready: new Promise<void>((r) => (started = r)) };
    worker.on(
      'message',
      (
        msg: Partial<HashingThread> & {
          ready?: boolean;
          problem?: string | null;
          id?: number;
          key?: Uint8Array;
          error?: string;
        },
      ) => {
        if (msg.ready) {
          this.started.set(worker, {
            tid: msg.tid ?? null,
            nice: msg.nice ?? null,
            policy: msg.policy ?? null,
          });
          // Hashing still works at nice 19 only; said once, not per thread.
          if (msg.problem && !this.warnedProblem) {
            this.warnedProblem = true;
            this.logger.warn(
              `password hashing threads stay at nice ${this.nice} without SCHED_IDLE: ${msg.problem}`,
            );
          }
          started();
          return;
        }
        const task = slot.task;
        if (!task || task.id !== msg.id) return;
        slot.task = null;
        worker.unref();
        if (this.workers.length > this.size) this.stop(slot); // the pool was made smaller meanwhile
        if (msg.key) task.resolve(Buffer.from(msg.key.buffer, msg.key.byteOffset, msg.key.byteLength));
        else task.reject(new Error(msg.error ?? 'pbkdf2 failed'));
        this.dispatch();
      },
    );
    const retire = (err: Error) => {
      started();
      this.started.delete(worker);
      const index = this.workers.indexOf(slot);
      if (index < 0) return;
      this.workers.splice(index, 1);
      if (slot.task) {
        this.logger.error(`password hashing thread stopped: ${err.message}`);
        slot.task.reject(err);
        slot.task = null;
      }
      this.dispatch();
    };
    worker.on('error', retire);
    worker.on('exit', (code) => retire(new Error(`hashing thread exited with code ${code}`)));
    this.workers.push(slot);
    return slot;
  }
}
