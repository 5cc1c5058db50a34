/**
 * One password-hashing thread of Pbkdf2Pool. On Linux nice is per thread: it lowers its own to
 * `workerData.nice` before hashing anything and reports its thread id, so the pool can ask `chrt`
 * for SCHED_IDLE on it from the main thread. Then it derives keys, one message at a time.
 */
import { pbkdf2Sync } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

export interface WorkerSettings {
  nice: number;
}

export interface DeriveTask {
  id: number;
  password: string;
  salt: string;
  iterations: number;
  keyLength: number;
  digest: string;
}

export type WorkerMessage =
  /** tid: the Linux thread id (null elsewhere); problem: why the nice value could not be set. */
  | { type: 'started'; tid: number | null; problem: string | null }
  | { type: 'derived'; id: number; key: Uint8Array }
  | { type: 'failed'; id: number; error: string };

function lowerOwnPriority(nice: number): WorkerMessage {
  let tid: number | null = null;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, nice);
    return { type: 'started', tid, problem: null };
  } catch (err) {
    return { type: 'started', tid, problem: process.platform === 'linux' ? String(err) : null };
  }
}

if (parentPort) {
  const port = parentPort;
  port.postMessage(lowerOwnPriority((workerData as WorkerSettings).nice));
  port.on('message', (task: DeriveTask) => {
    let reply: WorkerMessage;
    try {
      const key = pbkdf2Sync(task.password, task.salt, task.iterations, task.keyLength, task.digest);
      reply = { type: 'derived', id: task.id, key };
    } catch (err) {
      reply = { type: 'failed', id: task.id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
}
