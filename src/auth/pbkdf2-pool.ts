import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { Logger } from '@nestjs/common';

/**
 * The worker's whole program, run with `eval` so the same code works from ts-jest and from dist/.
 * On Linux a thread can lower its own priority (nice is per thread there): it finds its thread id
 * through /proc/thread-self and raises its nice value, so the kernel hands the CPU to the event
 * loop (chat) the moment it wakes and hashing only uses what is left.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { pbkdf2Sync } = require('node:crypto');
let nice = null;
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  require('node:os').setPriority(tid, workerData.nice);
  nice = require('node:os').getPriority(tid);
} catch {}
parentPort.postMessage({ ready: true, nice });
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

interface PoolWorker {
  worker: Worker;
  task: Task | null;
  /** Settles when the thread has started and lowered its priority (or has failed to start). */
  ready: Promise<void>;
}

/**
 * PBKDF2 at a million iterations is ~0.5 s of CPU per login. libuv's thread pool would keep it off
 * the event loop but not off the CPU the event loop needs; these threads run at the lowest priority
 * instead, one per core, so a login burst uses idle CPU only and chat latency does not move.
 */
export class Pbkdf2Pool {
  private readonly logger = new Logger('Pbkdf2Pool');
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  /** The nice value the last worker reported (null where the platform does not allow it). */
  niceness: number | null = null;

  constructor(
    readonly size = availableParallelism(),
    private readonly nice = 19,
  ) {}

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

  private spawn(): PoolWorker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { nice: this.nice } });
    worker.unref(); // idle hashing threads never keep the process alive
    let started = () => {};
    const slot: PoolWorker = { worker, task: null, ready: new Promise<void>((r) => (started = r)) };
    worker.on(
      'message',
      (msg: { ready?: boolean; nice?: number | null; id?: number; key?: Uint8Array; error?: string }) => {
        if (msg.ready) {
          this.niceness = msg.nice ?? null;
          started();
          return;
        }
        const task = slot.task;
        if (!task || task.id !== msg.id) return;
        slot.task = null;
        worker.unref();
        if (msg.key) task.resolve(Buffer.from(msg.key.buffer, msg.key.byteOffset, msg.key.byteLength));
        else task.reject(new Error(msg.error ?? 'pbkdf2 failed'));
        this.dispatch();
      },
    );
    const retire = (err: Error) => {
      started();
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
