import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { ClusterJob, ClusterJobScheduler, cronPeriodMs } from './cluster-job.scheduler';
import { JobLease } from './job-lease.entity';
import { JobLockService } from './job-lock.service';

/** Two "instances" (two lock services, two holder ids) on one in-memory SQLite database. */

/** A throwaway SQLite database with the lease table (synchronize: a test-only schema). */
function leaseDatabase(): Promise<DataSource> {
  return new DataSource({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: [JobLease],
    synchronize: true,
  }).initialize();
}

describe('ClusterJobScheduler', () => {
  let db: DataSource;
  let a: ClusterJobScheduler;
  let b: ClusterJobScheduler;
  let lockA: JobLockService;
  let lockB: JobLockService;

  const job = <T>(
    work: () => Promise<T>,
    cron: string | null = '*/2 * * * * *',
  ): ClusterJob<T> & {
    logger: { error: jest.Mock };
  } => ({
    name: 'test-job',
    cron,
    leaseMs: 60_000,
    logger: { error: jest.fn() },
    failedEvent: 'test_job_failed',
    work,
  });

  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
    jest.spyOn(Logger.prototype, 'debug').mockImplementation();
  });
  afterAll(() => jest.restoreAllMocks());

  beforeEach(async () => {
    db = await leaseDatabase();
    lockA = new JobLockService(db);
    lockB = new JobLockService(db);
    a = new ClusterJobScheduler(lockA);
    b = new ClusterJobScheduler(lockB);
  });
  afterEach(async () => {
    await db.destroy();
  });

  it('measures a cron period from the expression', () => {
    expect(cronPeriodMs('*/2 * * * * *')).toBe(2000);
    expect(cronPeriodMs('0 0-23/1 * * *')).toBe(3_600_000);
  });

  it('runs a tick on one instance only and keeps the lease for half the period', async () => {
    const work = jest.fn(async () => 42);
    const tick = job(work);
    const results = await Promise.all([a.run(tick), b.run(tick)]);
    expect(results.sort()).toEqual([42, null]);
    expect(work).toHaveBeenCalledTimes(1);
    // Right after the run, the other instance's tick for the same second still finds the lease held.
    const runner = results[0] === 42 ? lockA : lockB;
    const other = runner === lockA ? b : a;
    expect(await other.run(tick)).toBeNull();
    const lease = await db.getRepository(JobLease).findOneByOrFail({ name: 'test-job' });
    expect(lease.holder).toBe(runner.holderId);
    expect(lease.expiresAt).toBeGreaterThan(Date.now() + 500);
  });

  it('releases at once when there is no cron (a run called by hand)', async () => {
    expect(await a.run(job(async () => 'once', null))).toBe('once');
    expect(await b.run(job(async () => 'twice', null))).toBe('twice');
  });

  it("logs a failed run with the job's own event and answers null", async () => {
    const tick = job(async () => {
      throw new Error('disk on fire');
    }, null);
    expect(await a.run(tick)).toBeNull();
    expect(tick.logger.error).toHaveBeenCalledWith({ event: 'test_job_failed', error: 'disk on fire' });
    // The lease did not outlive the failed run.
    expect(await b.run(job(async () => 'after', null))).toBe('after');
  });

  it('schedules on the cron unless it is off or there is no scheduler', () => {
    const registry = new SchedulerRegistry();
    const scheduling = new ClusterJobScheduler(lockA, registry);
    expect(scheduling.schedule(job(async () => 1, null))).toBe(false);
    expect(a.schedule(job(async () => 1))).toBe(false);
    expect(scheduling.schedule(job(async () => 1))).toBe(true);
    const cron = registry.getCronJob('test-job');
    expect(cron.isActive).toBe(true);
    void cron.stop();
  });
});

describe('JobLockService.acquire', () => {
  let db: DataSource;
  beforeEach(async () => {
    db = await leaseDatabase();
  });
  afterEach(() => db.destroy());

  it('holds the lease until released, then another instance can take it', async () => {
    const [one, two] = [new JobLockService(db), new JobLockService(db)];
    const lease = await one.acquire('certbot', 60_000);
    expect(lease).not.toBeNull();
    expect(await two.acquire('certbot', 60_000)).toBeNull();
    await lease!.release();
    await lease!.release(); // a second release is harmless
    const next = await two.acquire('certbot', 60_000);
    expect(next).not.toBeNull();
    await next!.release(Date.now() + 60_000); // kept after the run
    expect(await one.acquire('certbot', 60_000)).toBeNull();
  });
});
