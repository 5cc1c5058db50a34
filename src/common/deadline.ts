/**
 * Bounded waits, one implementation for the whole app (Redis calls, history reads, shutdown).
 * The timer is always cleared, and work that settles after its deadline is ignored, never an
 * unhandled rejection.
 */

/** Resolves with `work`, or rejects with `<what>: no answer within <ms> ms` once `ms` passed. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => undefined);
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Waits for `work` to settle, or `ms` at most; never rejects. */
export async function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  await withDeadline(work, ms, 'wait').catch(() => undefined);
}
