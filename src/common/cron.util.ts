import { CronJob } from 'cron';

/**
 * The time between a cron job's next two ticks. A job run under the shared lease keeps it for half
 * of that, so instances whose clocks tick a few milliseconds apart run it once per tick, not once each.
 */
export function cronPeriodMs(job: CronJob): number {
  const [a, b] = job.nextDates(2);
  return b.toMillis() - a.toMillis();
}
