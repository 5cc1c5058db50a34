import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { CommandRunner } from '../common/command-runner';
import type { MetricsService } from '../metrics/metrics.service';
import type { DeriveTask, WorkerMessage, WorkerSettings } from './pbkdf2.worker';

/**
 * The worker next to this module: pbkdf2.worker.js in a build (dist/, the e2e build), the .ts
 * source under ts-jest and ts-node, which the thread then compiles for itself.
 */
function workerFile(): { path: string; execArgv?: string[] } {
  const ext = extname(__filename);
  const path = join(__dirname, `pbkdf2.worker${ext}`);
  if (ext !== '.ts') return { path };
  return { path, execArgv: ['-r', require.resolve('ts-node/register/transpile-only')] };
}

/** `chrt` is quick; a hung one must not hold a thread back from hashing for long. */
const CHRT_TIMEOUT_MS = 5000;
const CHRT_MAX_OUTPUT_BYTES = 4096;

const POLICIES = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE'];

/** nice and scheduling policy from a /proc/…/task/<tid>/stat line (fields 19 and 41). */
export function parseThreadStat(stat: string): { nice: number; policy: string } {
  // Fields after the command name, which may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  const policy = Number(fields[38]);
  return { nice: Number(fields[16]), policy: POLICIES[policy] ?? `policy ${fields[38]}` };
}

interface Task extends DeriveTask {
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
  /** Runs `chrt`. */
  commands: CommandRunner;
  /** Threads hashing at once; by default one core is left to the event loop (see defaultHashThreads). */
  size?: number;
  nice?: number;
  /** Ask for SCHED_IDLE through `chrt` (util-linux) after lowering the nice value. */
  idlePolicy?: boolean;
  /** The `chrt` program; a test may name one that does not exist. */
  chrt?: string;
  /** Where the queue and thread gauges go (the app's registry); none in tests and the bench. */
  metrics?: MetricsService;
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
  /** Hashes only once its priority is lowered (or could not be). */
  ready: boolean;
  task: Task | null;
  /** Resolves when the thread has lowered its priority (or the pool closed), rejects if it died first. */
  started: Promise<void>;
}

/**
 * PBKDF2 at a million iterations is ≈ 0.2 s of CPU per login. libuv's thread pool would keep it off
 * the event loop but not off the CPU the event loop needs; these threads run at the lowest priority
 * instead, one core fewer than the machine has, so a login burst uses idle CPU only and chat
 * latency barely moves.
 *
 * Each thread sets nice 19 on itself, then the pool asks util-linux's `chrt` for SCHED_IDLE on it.
 * Under SCHED_IDLE a waking event loop preempts the thread at once and the kernel counts its CPU
 * as idle when it places a woken thread; at nice 19 alone a wake-up could wait for the next
 * scheduler tick (bench/RESULTS.md, note 2). It keeps what the kernel shows for the thread
 * (/proc/<pid>/task/<tid>/stat), not what it asked for.
 *
 * As a provider its threads start, and lower their priority, while the app boots: before the first
 * login, not inside a burst of them. They stop when the app shuts down.
 */
export class Pbkdf2Pool implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Pbkdf2Pool');
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  /** What each started thread reported about itself (nulls off Linux). */
  private readonly started = new Map<Worker, HashingThread>();
  private warnedProblem = false;
  private closed = false;
  private derived = 0;
  private derivedCounter: Counter | null = null;
  private readonly commands: CommandRunner;
  private readonly size: number;
  private readonly nice: number;
  private readonly idlePolicy: boolean;
  private readonly chrt: string;

  constructor(options: Pbkdf2PoolOptions) {
    this.size = options.size ?? defaultHashThreads();
    if (!Number.isInteger(this.size) || this.size < 1)
      throw new RangeError(`hashing threads must be an integer >= 1, got ${this.size}`);
    this.commands = options.commands;
    this.nice = options.nice ?? 19;
    this.idlePolicy = options.idlePolicy ?? true;
    this.chrt = options.chrt ?? 'chrt';
    if (options.metrics) this.registerGauges(options.metrics);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.warm();
    const first = this.threads()[0];
    this.logger.log({
      event: 'password_hashing_ready',
      threads: this.size,
      policy: first?.policy ?? 'unknown',
      nice: first?.nice ?? null,
    });
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** Threads hashing at once. */
  get threadCount(): number {
    return this.size;
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

  /** Derivations asked for since start (each login, decoy and new password is one). */
  get derivations(): number {
    return this.derived;
  }

  derive(
    password: string,
    salt: string,
    iterations: number,
    keyLength: number,
    digest: string,
  ): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('password hashing pool closed'));
    this.derived++;
    this.derivedCounter?.inc();
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, password, salt, iterations, keyLength, digest, resolve, reject });
      this.dispatch();
    });
  }

  /** Starts every thread now and resolves once each has set its priority; rejects if one cannot start. */
  async warm(): Promise<void> {
    while (!this.closed && this.workers.length < this.size) this.spawn();
    await Promise.all(this.workers.map((w) => w.started));
  }

  /** Stops every thread for good; queued and running derivations fail, and later ones too. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('password hashing pool closed');
    for (const task of this.queue.splice(0)) task.reject(error);
    this.started.clear();
    await Promise.all(this.workers.splice(0).map((w) => (w.task?.reject(error), w.worker.terminate())));
  }

  /** A burst of logins waits for the hashing threads; an operator sees it here before users say so. */
  private registerGauges(metrics: MetricsService): void {
    // How many passwords were checked: the login throttle's promise ("at most LOGIN_MAX_FAILURES
    // checks") is read here, and so is a guessing storm the throttle lets through.
    this.derivedCounter = new Counter({
      name: 'live_password_hashes_total',
      help: 'Password hashes computed (login checks, unknown-user decoys, new passwords)',
      registers: [metrics.registry],
    });
    metrics.gauge('live_password_hashing_queued', 'Password hashes waiting for a hashing thread', [], (set) =>
      set(this.queued),
    );
    metrics.gauge(
      'live_password_hashing_threads',
      'Password hashing threads, by state (busy, idle)',
      ['state'],
      (set) => {
        set(this.busy, { state: 'busy' });
        set(this.size - this.busy, { state: 'idle' });
      },
    );
  }

  private dispatch(): void {
    for (const slot of this.workers) {
      if (this.queue.length === 0) return;
      if (slot.ready && slot.task === null) this.run(slot, this.queue.shift() as Task);
    }
    // Threads still starting take the next tasks; start more only for what they cannot.
    const starting = this.workers.filter((w) => !w.ready).length;
    const more = Math.min(this.size - this.workers.length, this.queue.length - starting);
    for (let i = 0; i < more; i++) this.spawn();
  }

  private run(slot: PoolWorker, task: Task): void {
    slot.task = task;
    slot.worker.ref(); // a hash in flight keeps the process alive (manage commands await it)
    const { resolve: _resolve, reject: _reject, ...message } = task;
    slot.worker.postMessage(message satisfies DeriveTask);
  }

  private spawn(): void {
    const { path, execArgv } = workerFile();
    const settings: WorkerSettings = { nice: this.nice };
    const worker = new Worker(path, { workerData: settings, execArgv });
    worker.unref(); // idle hashing threads never keep the process alive
    let started = () => {};
    let failed = (_err: Error) => {};
    const slot: PoolWorker = {
      worker,
      ready: false,
      task: null,
      started: new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject))),
    };
    slot.started.catch(() => undefined); // a thread started for a derivation has no one awaiting it
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'started') {
        void this.lowerPriority(msg.tid, msg.problem).then((thread) => {
          if (!this.workers.includes(slot)) return; // closed meanwhile
          this.started.set(worker, thread);
          slot.ready = true;
          // Again now that it runs: an unref() made while the thread was still starting left its
          // message port holding the process open (seen on Node 20: jest and manage never exited).
          if (slot.task === null) worker.unref();
          started();
          this.dispatch();
        });
        return;
      }
      const task = slot.task;
      if (!task || task.id !== msg.id) return;
      slot.task = null;
      worker.unref();
      if (msg.type === 'derived')
        task.resolve(Buffer.from(msg.key.buffer, msg.key.byteOffset, msg.key.byteLength));
      else task.reject(new Error(msg.error));
      this.dispatch();
    });
    const retire = (err: Error) => {
      this.started.delete(worker);
      const index = this.workers.indexOf(slot);
      if (index < 0) return started(); // closed: warm() ends quietly
      this.workers.splice(index, 1);
      if (!slot.ready) {
        // A thread that cannot start (its file missing, say) would be replaced forever: fail instead,
        // and fail warm() so the app does not boot without hashing.
        const error = new Error(`password hashing thread failed to start: ${err.message}`);
        this.logger.error({ event: 'password_hashing_thread_failed', error: err.message });
        failed(error);
        for (const task of this.queue.splice(0)) task.reject(error);
        return;
      }
      if (slot.task) {
        this.logger.error({ event: 'password_hashing_thread_stopped', error: err.message });
        slot.task.reject(err);
        slot.task = null;
      }
      this.dispatch();
    };
    worker.on('error', retire);
    worker.on('exit', (code) => retire(new Error(`hashing thread exited with code ${code}`)));
    this.workers.push(slot);
  }

  /** SCHED_IDLE for a thread that has set its own nice value; returns what the kernel then shows. */
  private async lowerPriority(tid: number | null, problem: string | null): Promise<HashingThread> {
    if (tid === null) return { tid, nice: null, policy: null };
    if (!problem && this.idlePolicy) problem = await this.askForIdlePolicy(tid);
    let thread: HashingThread = { tid, nice: null, policy: null };
    try {
      thread = { tid, ...parseThreadStat(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')) };
    } catch {
      // the thread is gone already: its exit retires it
    }
    // Hashing still works, at nice 19 only; said once, not per thread.
    if (problem && !this.warnedProblem) {
      this.warnedProblem = true;
      this.logger.warn({
        event: 'password_hashing_without_sched_idle',
        nice: thread.nice,
        policy: thread.policy,
        problem,
      });
    }
    return thread;
  }

  /** Runs `chrt --idle -p 0 <tid>`; returns what went wrong, or null. */
  private async askForIdlePolicy(tid: number): Promise<string | null> {
    const args = ['--idle', '-p', '0', String(tid)];
    const result = await this.commands.run(this.chrt, args, {
      timeoutMs: CHRT_TIMEOUT_MS,
      maxOutputBytes: CHRT_MAX_OUTPUT_BYTES,
    });
    if (!result.spawnError && !result.timedOut && result.exitCode === 0) return null;
    const why =
      result.spawnError ??
      (result.timedOut
        ? `no answer in ${CHRT_TIMEOUT_MS} ms`
        : `exit ${result.exitCode ?? result.signal}: ${result.stderr.trim()}`);
    return `${this.chrt} ${args.join(' ')}: ${why}`;
  }
}
