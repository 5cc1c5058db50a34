import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { CommandResult } from '../../common/command-runner';
import { OpsEvents } from '../../common/ops-events';
import { HeldLease, JobLockService } from '../../database/job-lock.service';
import { HealthRegistry } from '../../health/health.registry';
import { MetricsService } from '../../metrics/metrics.service';
import { CertDeployCheck, DeployStatus, ServedCheck } from './cert-deploy-check.entity';
import { CertDeployChecker } from './cert-deploy-check.service';
import { CertInfo, CertInventoryService } from './cert-inventory.service';
import { CertRun, CertRunKind, CertRunOutcome, CertRunTrigger } from './cert-run.entity';
import {
  caProblems,
  CertbotDriver,
  certbotHasAri,
  certbotReason,
  MAX_REASON_CHARS,
  parseRenewOutput,
} from './certbot.driver';
import { CertsConfig } from './certs.config';
import { CertsError } from './certs.exception';

const LEASE = 'certbot';
const OUTPUT_TAIL_BYTES = 4096;

export interface RunRequest {
  trigger: CertRunTrigger;
  by: string | null;
  force?: boolean;
  /** For `obtain`: the names of the new certificate (the first one names the lineage). */
  domains?: string[];
  email?: string;
  /** For `obtain`: from Let's Encrypt's staging directory (default CERTBOT_STAGING). */
  staging?: boolean;
}

/** A certificate as the API shows it: what certbot holds, and whether the web server serves it. */
export interface CertView extends CertInfo {
  deployment: {
    status: DeployStatus | 'unchecked';
    checkedAt: string | null;
    /** What each domain served at the last check of this certificate (by serial). */
    detail: ServedCheck[];
  };
}

export const NO_CERTIFICATES =
  'No certificates yet: obtain the first one (the console’s Obtain form, POST /admin/certs {domains}); ' +
  'try it with staging first to spare Let’s Encrypt’s rate limits';

function tail(text: string, bytes: number): string {
  const buf = Buffer.from(text);
  return buf.length <= bytes ? text : '…' + buf.subarray(buf.length - bytes).toString('utf8');
}

/**
 * Certificate runs: renewals (scheduled or manual) and issuance, one at a time per instance and,
 * through the shared lease, per cluster. Every run is recorded; failures are logged and published.
 */
@Injectable()
export class CertsService implements OnModuleInit {
  private readonly logger = new Logger('Certs');
  /** The run in flight in this process, if any (set synchronously, so two requests cannot both start). */
  private current: { id: number | null } | null = null;

  constructor(
    @InjectRepository(CertRun) private readonly runs: Repository<CertRun>,
    private readonly driver: CertbotDriver,
    private readonly inventory: CertInventoryService,
    private readonly lock: JobLockService,
    private readonly events: OpsEvents,
    private readonly config: CertsConfig,
    private readonly health: HealthRegistry,
    private readonly metrics: MetricsService,
    private readonly deployCheck: CertDeployChecker,
  ) {}

  async onModuleInit(): Promise<void> {
    await mkdir(join(this.config.webroot, '.well-known', 'acme-challenge'), { recursive: true });
    this.health.register({ name: 'certs', critical: false, check: () => this.healthCheck() });
    this.metrics.gauge(
      'live_cert_days_left',
      'Days until each certificate expires',
      ['name'],
      async (set) => {
        for (const c of await this.inventory.list()) set(c.daysLeft, { name: c.name });
      },
    );
    this.metrics.gauge(
      'live_cert_last_run_timestamp_seconds',
      'When the last certificate run finished, by outcome',
      ['kind', 'outcome'],
      async (set) => {
        const last = await this.lastFinished();
        if (last?.finishedAt)
          set(last.finishedAt.getTime() / 1000, { kind: last.kind, outcome: last.outcome });
      },
    );
  }

  async list(): Promise<CertView[]> {
    const [certs, checks] = await Promise.all([this.inventory.list(), this.deployCheck.latest()]);
    return certs.map((cert) => ({ ...cert, deployment: deploymentOf(cert, checks.get(cert.name)) }));
  }

  /** Checks now what each certificate's domains serve (`POST /admin/certs/check`). */
  async checkDeployed(): Promise<CertView[]> {
    await this.deployCheck.check(await this.inventory.list());
    return this.list();
  }

  recentRuns(limit: number): Promise<CertRun[]> {
    return this.runs.find({ order: { id: 'DESC' }, take: limit });
  }

  async run(id: number): Promise<CertRun> {
    const run = await this.runs.findOneBy({ id });
    if (!run) throw new CertsError('not_found', `No certificate run with id ${id}`);
    return run;
  }

  /**
   * Starts a run and returns its row at once (outcome `running`); `finished` resolves when certbot
   * is done. A run already in flight: a scheduled trigger is recorded as `skipped`, a manual one is
   * a 409. null: a scheduled run that another instance of the cluster is doing.
   */
  async start(
    kind: CertRunKind,
    request: RunRequest,
  ): Promise<{ run: CertRun; finished: Promise<CertRun> } | null> {
    if (this.current) {
      if (request.trigger !== 'schedule')
        throw new CertsError(
          'conflict',
          `A certificate run is already in progress${this.current.id ? ` (run ${this.current.id})` : ''}`,
        );
      const skipped = await this.record(kind, request, 'skipped', 'a previous run was still in progress');
      this.logger.warn({ event: 'cert_run_skipped', id: skipped.id, busyWith: this.current.id });
      return { run: skipped, finished: Promise.resolve(skipped) };
    }
    const slot: { id: number | null } = { id: null };
    this.current = slot;
    let lease: HeldLease | null = null;
    try {
      // In cluster mode another instance may be running certbot: the shared lease decides. It is
      // taken here once and let go when certbot is done (execute).
      lease = await this.lock.acquire(LEASE, this.config.timeoutMs + 60_000);
      if (!lease) {
        if (request.trigger === 'schedule') {
          this.logger.debug({ event: 'cert_run_elsewhere', kind });
          this.current = null;
          return null;
        }
        throw new CertsError('conflict', 'A certificate run is already in progress on another instance');
      }
      const run = await this.record(kind, request, 'running', null);
      slot.id = run.id;
      const finished = this.execute(run, request, lease).finally(() => {
        if (this.current === slot) this.current = null;
      });
      return { run, finished };
    } catch (err) {
      await lease?.release();
      if (this.current === slot) this.current = null;
      throw err;
    }
  }

  /** The scheduled renewal: renew what is due, then look at every certificate's expiry. */
  async scheduledRenewal(): Promise<CertRun | null> {
    const started = await this.start('renew', { trigger: 'schedule', by: null });
    if (!started) return null;
    const run = await started.finished;
    await this.announceExpiring();
    // The served-certificate check on every tick (at least daily), not only after a renewal: a web
    // server restarted from an old configuration is found too. Renewed ones were checked already.
    const certs = (await this.inventory.list()).filter((c) => !run.renewed.includes(c.name));
    await this.deployCheck
      .check(certs)
      .catch((err: Error) => this.logger.error({ event: 'cert_deploy_check_failed', error: err.message }));
    return run;
  }

  /** `manage renew-certs`: a manual renewal that waits for its end. */
  async renewNow(by: string, force = false): Promise<CertRun> {
    const started = await this.start('renew', { trigger: 'manage', by, force });
    const run = await started!.finished;
    await this.announceExpiring();
    return run;
  }

  private async record(
    kind: CertRunKind,
    request: RunRequest,
    outcome: CertRunOutcome,
    reason: string | null,
  ): Promise<CertRun> {
    const now = new Date();
    return this.runs.save(
      this.runs.create({
        kind,
        trigger: request.trigger,
        requestedBy: request.by,
        domains: request.domains ?? [],
        startedAt: now,
        finishedAt: outcome === 'running' ? null : now,
        exitCode: null,
        outcome,
        renewed: [],
        failed: [],
        reason,
        outputTail: '',
      }),
    );
  }

  private async execute(run: CertRun, request: RunRequest, lease: HeldLease): Promise<CertRun> {
    this.logger.log({
      event: 'cert_run_started',
      id: run.id,
      kind: run.kind,
      trigger: run.trigger,
      by: run.requestedBy,
    });
    try {
      if (run.kind === 'obtain') await this.obtain(run, request);
      else await this.renew(run, request.force ?? false);
    } catch (err) {
      run.outcome = 'failed';
      run.reason = (err as Error).message;
    } finally {
      await lease.release();
    }
    // Part of the run (it ends when the check does), outside the certbot lease.
    if (run.renewed.length > 0) await this.checkRenewed(run.renewed);
    run.finishedAt = new Date();
    await this.runs.save(run);
    this.report(run);
    return run;
  }

  private async obtain(run: CertRun, request: RunRequest): Promise<void> {
    const staging = request.staging ?? this.config.staging;
    // certbot keeps a staging certificate rather than replace it with a production one for the same
    // names ("not yet due"): going from staging to production must force the new issuance.
    const existing = (await this.inventory.list()).find((c) => c.name === run.domains[0]);
    const result = await this.driver.certonly(run.domains, request.email ?? this.config.email, {
      staging,
      force: !staging && existing?.staging === true,
    });
    run.exitCode = result.exitCode;
    run.outputTail = tail(`${result.stdout}\n${result.stderr}`.trim(), OUTPUT_TAIL_BYTES);
    const ok = result.exitCode === 0 && !result.timedOut && !result.spawnError;
    run.outcome = ok ? 'obtained' : 'failed';
    run.renewed = ok ? [run.domains[0]] : [];
    run.reason = ok ? null : certbotReason(result);
    run.failed = ok ? [] : [{ name: run.domains[0], reason: certbotReason(result) }];
  }

  /**
   * A renewal: live decides per certificate (its window scales with the lifetime, see
   * renewWindowMs; `force`: all of them) and renews each due one with `certbot renew --cert-name N
   * --force-renewal`. Unforced, a certbot with ARI (4.1 and later) first gets a plain `certbot
   * renew`, so the window the CA suggests is followed too.
   */
  private async renew(run: CertRun, force: boolean): Promise<void> {
    const certs = await this.inventory.list();
    if (certs.length === 0) {
      run.outcome = 'none';
      run.reason = NO_CERTIFICATES;
      return;
    }
    const results: CommandResult[] = [];
    const renewed = new Set<string>();
    const failed = new Map<string, string>();
    const take = (result: CommandResult) => {
      results.push(result);
      const report = parseRenewOutput(result.stdout, result.stderr);
      for (const name of report.renewed) renewed.add(name);
      const ca = caProblems(`${result.stderr}\n${result.stdout}`);
      for (const f of report.failed) failed.set(f.name, ca ?? (f.reason || certbotReason(result)));
      const ok = result.exitCode === 0 && !result.timedOut && !result.spawnError;
      return { ok, report };
    };
    if (!force && certbotHasAri(await this.driver.certbotVersion())) {
      const result = await this.driver.renew(false);
      const { ok, report } = take(result);
      // A failure certbot did not tie to a lineage (it could not start, it timed out): all of them.
      if (!ok && report.failed.length === 0 && report.renewed.length === 0)
        for (const c of certs) failed.set(c.name, certbotReason(result));
    }
    const now = Date.now();
    for (const cert of certs) {
      if (renewed.has(cert.name) || failed.has(cert.name)) continue;
      if (!force && now < new Date(cert.renewFrom).getTime()) continue;
      // By name, so a lineage of live gets the hooks of this installation (its conf may name an
      // older path of live's), forced or due alike.
      const result = await this.driver.renewLineage({
        name: cert.name,
        force: true,
        liveHooks: cert.renewal?.byLive ?? false,
      });
      const { ok, report } = take(result);
      if (!ok && !report.renewed.includes(cert.name) && !failed.has(cert.name))
        failed.set(cert.name, certbotReason(result));
    }
    run.exitCode = results.length === 0 ? null : (results.find((r) => r.exitCode !== 0)?.exitCode ?? 0);
    run.outputTail = tail(
      results.map((r) => `${r.stdout}\n${r.stderr}`.trim()).join('\n\n'),
      OUTPUT_TAIL_BYTES,
    );
    run.renewed = [...renewed].filter((n) => !failed.has(n));
    run.failed = [...failed].map(([name, reason]) => ({ name, reason }));
    if (run.failed.length === 0) {
      run.outcome = run.renewed.length > 0 ? 'renewed' : 'not-due';
      run.reason = null;
    } else {
      run.outcome = run.renewed.length > 0 ? 'partial' : 'failed';
      const reasons = run.failed.map((f) => `${f.name}: ${f.reason}`).join('; ');
      run.reason =
        reasons.length <= MAX_REASON_CHARS ? reasons : `${reasons.slice(0, MAX_REASON_CHARS - 1)}…`;
    }
  }

  /** The served-certificate check right after a renewal or issuance (the web server gets a few seconds). */
  private async checkRenewed(names: string[]): Promise<void> {
    try {
      const certs = (await this.inventory.list()).filter((c) => names.includes(c.name));
      await this.deployCheck.check(certs, { afterRenewal: true });
    } catch (err) {
      this.logger.error({ event: 'cert_deploy_check_failed', error: (err as Error).message });
    }
  }

  private report(run: CertRun): void {
    const entry = {
      id: run.id,
      kind: run.kind,
      outcome: run.outcome,
      renewed: run.renewed,
      failed: run.failed,
      exitCode: run.exitCode,
      reason: run.reason,
    };
    if (run.outcome !== 'failed' && run.outcome !== 'partial') {
      this.logger.log({ event: 'cert_run_finished', ...entry });
      return;
    }
    this.logger.error({ event: 'cert_run_failed', ...entry });
    const names = run.failed.map((f) => f.name).join(', ') || run.domains.join(', ') || 'all certificates';
    this.events.publish({
      event: run.kind === 'renew' ? 'cert.renewal_failed' : 'cert.issue_failed',
      severity: 'critical',
      subject: `Certificate ${run.kind === 'renew' ? 'renewal' : 'issuance'} ${run.outcome === 'partial' ? 'partly failed' : 'failed'}: ${names}`,
      detail: [
        `Run ${run.id} (${run.trigger}${run.requestedBy ? ` by ${run.requestedBy}` : ''}) ended ${run.outcome}, exit code ${run.exitCode ?? 'none'}.`,
        ...run.failed.map((f) => `${f.name}: ${f.reason}`),
        run.reason ? `certbot: ${run.reason}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
    });
  }

  /** Publishes one event per expiring or expired certificate (alerts keep it to one a day). */
  async announceExpiring(): Promise<void> {
    for (const cert of await this.inventory.list()) {
      if (cert.status === 'valid') continue;
      this.events.publish({
        event: 'cert.expiring',
        severity: cert.status === 'expired' ? 'critical' : 'warning',
        subject: `Certificate ${cert.name} ${cert.status === 'expired' ? 'has expired' : `expires in ${cert.daysLeft} day(s)`}`,
        detail: [
          `Domains: ${cert.domains.join(', ')}`,
          `Not after: ${cert.notAfter} (a ${cert.lifetimeDays}-day certificate, expiring since ${cert.warnFrom})`,
          `live renews it from ${cert.renewFrom}: if that has passed, look at the last runs' reasons.`,
        ].join('\n'),
        dedupeKey: `cert.expiring:${cert.name}`,
      });
    }
  }

  private lastFinished(): Promise<CertRun | null> {
    return this.runs
      .createQueryBuilder('r')
      .where('r.outcome NOT IN (:...skip)', { skip: ['running', 'skipped'] })
      .orderBy('r.id', 'DESC')
      .getOne();
  }

  private async healthCheck(): Promise<{ status: 'up' | 'degraded'; detail?: string }> {
    const problems: string[] = [];
    for (const c of await this.list()) {
      if (c.status !== 'valid') problems.push(`${c.name} ${c.status} (${c.daysLeft} days left)`);
      if (c.deployment.status === 'not-deployed') {
        const stale = c.deployment.detail.filter((d) => d.served !== null && !d.matches);
        problems.push(
          `${c.name} not deployed: ${stale.map((d) => `${d.domain} serves serial ${d.served}`).join(', ')}, certbot holds ${c.serial}`,
        );
      }
    }
    const last = await this.lastFinished();
    if (last && (last.outcome === 'failed' || last.outcome === 'partial'))
      problems.push(`last ${last.kind} run ${last.id} ${last.outcome}: ${last.reason ?? ''}`.trim());
    return problems.length ? { status: 'degraded', detail: problems.join('; ') } : { status: 'up' };
  }
}

/** A check counts for the certificate it looked at: one of an older serial says nothing of this one. */
function deploymentOf(cert: CertInfo, check: CertDeployCheck | undefined): CertView['deployment'] {
  if (!check || check.expectedSerial !== cert.serial)
    return { status: 'unchecked', checkedAt: null, detail: [] };
  return { status: check.status, checkedAt: check.checkedAt.toISOString(), detail: check.detail };
}
