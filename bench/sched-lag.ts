/**
 * `ts-node --transpile-only bench/sched-lag.ts [none|nice19|idle] [THREADS]`: how late a busy event
 * loop wakes up while CPU-bound hashing threads run at the lowest priority, with nothing of live
 * involved. Two processes each spend 3 ms of every 10 ms on the CPU (an event loop and a load
 * generator), THREADS threads (default: one per core) run PBKDF2 in the first one at nice 19
 * (`nice19`) or under SCHED_IDLE (`idle`, through util-linux's `chrt`), or none run (`none`). It
 * prints the timer lag of the first process and the time its thread waited on the run queue
 * (`/proc/<pid>/task/<tid>/schedstat`). Linux only.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

const SECONDS = 6;

const HASHER = `
const { workerData } = require('node:worker_threads');
const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
if (workerData.mode === 'idle') {
  require('node:child_process').execFileSync('chrt', ['--idle', '-p', '0', String(tid)], { timeout: 5000 });
} else {
  require('node:os').setPriority(tid, 19);
}
const { pbkdf2Sync } = require('node:crypto');
const end = Date.now() + workerData.ms;
while (Date.now() < end) pbkdf2Sync('password', 'salt', 100000, 32, 'sha256');
`;

function runQueueWaitMs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
}

/** Spends 3 ms of every 10 ms on the CPU for SECONDS; resolves with the timer lags (ms). */
function dutyCycle(): Promise<number[]> {
  return new Promise((resolve) => {
    const lags: number[] = [];
    const stopAt = performance.now() + SECONDS * 1000;
    let due = performance.now() + 10;
    const tick = () => {
      const now = performance.now();
      lags.push(now - due);
      if (now >= stopAt) return resolve(lags);
      while (performance.now() < now + 3);
      due = performance.now() + 10;
      setTimeout(tick, 10);
    };
    setTimeout(tick, 10);
  });
}

function quantile(sorted: number[], q: number): string {
  return sorted[Math.floor(q * (sorted.length - 1))].toFixed(2);
}

async function main(): Promise<void> {
  const [mode = 'nice19', threadsArg] = process.argv.slice(2);
  if (mode === 'peer') {
    await dutyCycle();
    return;
  }
  if (!['none', 'nice19', 'idle'].includes(mode))
    throw new Error('usage: sched-lag.ts [none|nice19|idle] [THREADS]');
  const threads = mode === 'none' ? 0 : Number(threadsArg ?? availableParallelism());
  const peer = spawn(process.execPath, [...process.execArgv, __filename, 'peer'], { stdio: 'inherit' });
  for (let i = 0; i < threads; i++)
    new Worker(HASHER, { eval: true, workerData: { mode, ms: (SECONDS + 1) * 1000 } }).unref();
  const waitBefore = runQueueWaitMs();
  const lags = (await dutyCycle()).sort((a, b) => a - b);
  const waited = runQueueWaitMs() - waitBefore;
  peer.kill();
  console.log(
    `${mode} × ${threads}: timer lag p50 ${quantile(lags, 0.5)} p99 ${quantile(lags, 0.99)} max ${quantile(lags, 1)} ms; ` +
      `run-queue wait ${waited.toFixed(0)} ms in ${SECONDS} s`,
  );
  process.exit(0);
}

void main();
