import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { OpsEvents } from '../../common/ops-events';
import { JobLockService } from '../../database/job-lock.service';
import { ComponentHealth, HealthRegistry } from '../../health/health.registry';
import { MetricsService } from '../../metrics/metrics.service';
import { VpnAudit, VpnClientMeta } from './vpn-audit.entity';
import { VpnConfig } from './vpn.config';
import { CLIENT_NAME, SERVER_URL, VpnClientCert, VpnRunner } from './vpn-runner';
import { VpnError } from './vpn.exception';

const DAY = 86_400_000;

export interface VpnClientView extends VpnClientCert {
  createdBy: string | null;
  createdAt: string | null;
  revokedBy: string | null;
  revokedAt: string | null;
}

export interface VpnStatus {
  runner: string;
  crlNextUpdate: string | null;
  valid: number;
  revoked: number;
  expired: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The client lifecycle on the configured runner: serialized, audited, failures reported as ops events. */
@Injectable()
export class VpnService implements OnModuleInit {
  private readonly logger = new Logger('Vpn');
  private queue: Promise<unknown> = Promise.resolve();
  private healthCache: { at: number; value: ComponentHealth } | null = null;

  constructor(
    private readonly config: VpnConfig,
    private readonly runner: VpnRunner,
    private readonly lock: JobLockService,
    private readonly events: OpsEvents,
    private readonly health: HealthRegistry,
    @InjectRepository(VpnAudit) private readonly audit: Repository<VpnAudit>,
    @InjectRepository(VpnClientMeta) private readonly meta: Repository<VpnClientMeta>,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.health.register({ name: 'vpn', critical: false, check: () => this.healthCheck() });
    // Read at scrape time; a PKI that cannot be read (not initialised, docker down) reports nothing.
    this.metrics.gauge('live_vpn_clients', 'VPN client certificates by status', ['status'], async (set) => {
      const status = await this.status().catch(() => null);
      if (!status) return;
      set(status.valid, { status: 'VALID' });
      set(status.revoked, { status: 'REVOKED' });
      set(status.expired, { status: 'EXPIRED' });
    });
    this.metrics.gauge(
      'live_vpn_crl_next_update_timestamp_seconds',
      'When the VPN CRL must be renewed by',
      [],
      async (set) => {
        const status = await this.status().catch(() => null);
        if (status?.crlNextUpdate) set(new Date(status.crlNextUpdate).getTime() / 1000);
      },
    );
  }

  validateName(name: unknown): string {
    if (typeof name !== 'string' || !CLIENT_NAME.test(name))
      throw new VpnError(
        'invalid',
        'name must be 1-64 characters of A-Za-z0-9_.- starting with a letter or digit',
      );
    return name;
  }

  /** easy-rsa's index is not safe under concurrent writers: one at a time here, and one in the cluster. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const deadline = Date.now() + this.config.timeoutMs;
      for (;;) {
        const outcome = await this.lock.runExclusive('vpn-pki', this.config.timeoutMs + 10_000, fn);
        if (outcome.ran) return outcome.result;
        if (Date.now() > deadline)
          throw new VpnError('unavailable', 'another instance holds the VPN PKI lock', 'lock wait timed out');
        await sleep(200);
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async record(
    actor: string,
    action: string,
    clientName: string | null,
    err?: unknown,
  ): Promise<void> {
    const detail = err ? this.describe(err) : '';
    await this.audit.insert({
      at: Date.now(),
      actor,
      action,
      clientName,
      outcome: err ? 'failed' : 'ok',
      detail,
    });
  }

  private describe(err: unknown): string {
    return err instanceof VpnError ? err.detail : (err as Error).message;
  }

  /** Audits the attempt, logs and publishes failures; whatever failed leaves as a VpnError. */
  private async operation<T>(actor: string, action: string, clientName: string | null, fn: () => Promise<T>) {
    const started = Date.now();
    try {
      const result = await fn();
      await this.record(actor, action, clientName);
      this.logger.log({
        event: 'vpn_operation',
        action,
        client: clientName,
        actor,
        ms: Date.now() - started,
      });
      return result;
    } catch (err) {
      await this.record(actor, action, clientName, err).catch((e: Error) =>
        this.logger.error({ event: 'vpn_audit_failed', error: e.message }),
      );
      const kind = err instanceof VpnError ? err.kind : 'internal';
      const detail = this.describe(err);
      const line = {
        event: 'vpn_operation_failed',
        action,
        client: clientName,
        actor,
        kind,
        detail,
      };
      const clientError = ['not_found', 'conflict', 'gone'].includes(kind);
      if (clientError) this.logger.warn(line);
      else this.logger.error(line);
      if (!clientError)
        this.events.publish({
          event: 'vpn.operation_failed',
          severity: 'critical',
          subject: `VPN ${action}${clientName ? ` ${clientName}` : ''} failed`,
          detail,
        });
      throw asVpnError(err);
    }
  }

  /** First set-up (genconfig + initpki nopass); refuses to overwrite an existing PKI. For `manage vpn-init`. */
  async init(url: string, actor = 'manage'): Promise<void> {
    if (!SERVER_URL.test(url)) throw new VpnError('invalid', 'url must be [udp|tcp]://host[:port]');
    await this.operation(actor, 'init', null, () => this.serialize(() => this.runner.init(url)));
  }

  async create(nameInput: unknown, actor: string): Promise<VpnClientView> {
    const name = this.validateName(nameInput);
    return this.operation(actor, 'create', name, async () => {
      const cert = await this.serialize(async () => {
        await this.runner.createClient(name);
        return (await this.runner.listClients()).find((c) => c.name === name);
      });
      const meta = { name, createdBy: actor, createdAt: Date.now(), revokedBy: null, revokedAt: null };
      await this.meta.save(meta);
      return this.view(cert ?? { name, status: 'VALID', notBefore: null, notAfter: null }, meta);
    });
  }

  private view(cert: VpnClientCert, meta: Partial<VpnClientMeta> | undefined): VpnClientView {
    const iso = (v: number | null | undefined) => (v ? new Date(v).toISOString() : null);
    return {
      ...cert,
      createdBy: meta?.createdBy ?? null,
      createdAt: iso(meta?.createdAt),
      revokedBy: meta?.revokedBy ?? null,
      revokedAt: iso(meta?.revokedAt),
    };
  }

  async list(): Promise<VpnClientView[]> {
    try {
      const [certs, metas] = await Promise.all([this.runner.listClients(), this.meta.find()]);
      const byName = new Map(metas.map((m) => [m.name, m]));
      return certs.map((c) => this.view(c, byName.get(c.name)));
    } catch (err) {
      throw asVpnError(err);
    }
  }

  async profile(nameInput: unknown, actor: string): Promise<string> {
    const name = this.validateName(nameInput);
    return this.operation(actor, 'profile', name, async () => {
      const cert = (await this.runner.listClients()).find((c) => c.name === name);
      if (!cert) throw new VpnError('not_found', `client "${name}" does not exist`);
      if (cert.status === 'REVOKED') throw new VpnError('gone', `client "${name}" has been revoked`);
      return this.runner.getProfile(name);
    });
  }

  async revoke(nameInput: unknown, actor: string): Promise<void> {
    const name = this.validateName(nameInput);
    await this.operation(actor, 'revoke', name, async () => {
      await this.serialize(() => this.runner.revokeClient(name));
      const existing = await this.meta.findOneBy({ name });
      await this.meta.save({
        ...(existing ?? { name, createdBy: null, createdAt: null }),
        revokedBy: actor,
        revokedAt: Date.now(),
      });
    });
    this.healthCache = null;
  }

  async auditLog(limit = 200): Promise<Array<Omit<VpnAudit, 'at'> & { at: string }>> {
    const rows = await this.audit.find({ order: { id: 'DESC' }, take: limit });
    return rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
  }

  async status(): Promise<VpnStatus> {
    try {
      const [crl, clients] = await Promise.all([this.runner.crlInfo(), this.runner.listClients()]);
      return {
        runner: this.config.runner,
        crlNextUpdate: crl.nextUpdate ? crl.nextUpdate.toISOString() : null,
        valid: clients.filter((c) => c.status === 'VALID').length,
        revoked: clients.filter((c) => c.status === 'REVOKED').length,
        expired: clients.filter((c) => c.status === 'EXPIRED').length,
      };
    } catch (err) {
      throw asVpnError(err);
    }
  }

  /**
   * The CRL upkeep: regenerate when less than CRL_RENEW_DAYS remain (or `force`), then warn when it is
   * still within CRL_WARN_DAYS. Returns the next update after the run.
   */
  async maintainCrl(force = false): Promise<{ regenerated: boolean; nextUpdate: Date | null }> {
    const before = await this.runner.crlInfo();
    let regenerated = false;
    let nextUpdate = before.nextUpdate;
    if (force || !nextUpdate || nextUpdate.getTime() - Date.now() < this.config.crlRenewDays * DAY) {
      await this.operation('system', 'gen_crl', null, () => this.serialize(() => this.runner.genCrl()));
      nextUpdate = (await this.runner.crlInfo()).nextUpdate;
      regenerated = true;
      this.logger.log({
        event: 'vpn_crl_regenerated',
        previousNextUpdate: before.nextUpdate?.toISOString() ?? null,
        nextUpdate: nextUpdate?.toISOString() ?? null,
      });
    }
    this.healthCache = null;
    if (!nextUpdate || nextUpdate.getTime() - Date.now() < this.config.crlWarnDays * DAY)
      this.events.publish({
        event: 'vpn.crl_expiring',
        severity: 'warning',
        subject: 'VPN revocation list about to expire',
        detail: `CRL next update ${nextUpdate?.toISOString() ?? 'unknown'}; OpenVPN refuses every client once it lapses`,
        dedupeKey: 'vpn.crl_expiring',
      });
    return { regenerated, nextUpdate };
  }

  private async healthCheck(): Promise<ComponentHealth> {
    if (this.healthCache && Date.now() - this.healthCache.at < 60_000) return this.healthCache.value;
    let value: ComponentHealth;
    try {
      const { nextUpdate } = await this.runner.crlInfo();
      if (!nextUpdate) value = { status: 'degraded', detail: 'no CRL' };
      else if (nextUpdate.getTime() - Date.now() < this.config.crlWarnDays * DAY)
        value = { status: 'degraded', detail: `CRL next update ${nextUpdate.toISOString()}` };
      else value = { status: 'up', detail: `CRL next update ${nextUpdate.toISOString()}` };
    } catch (err) {
      // A site that never set the VPN up is not degraded by it; one that did and lost it is.
      const everInitialised = (await this.audit.count({ where: { action: 'init', outcome: 'ok' } })) > 0;
      const clients = await this.meta.count();
      value =
        everInitialised || clients > 0
          ? { status: 'degraded', detail: this.describe(err) }
          : { status: 'up', detail: `not set up (npm run manage -- vpn-init): ${this.describe(err)}` };
    }
    this.healthCache = { at: Date.now(), value };
    return value;
  }
}

/** Anything else that broke a VPN operation (a runner bug, the database) is reported as a tool failure. */
function asVpnError(err: unknown): VpnError {
  return err instanceof VpnError
    ? err
    : new VpnError('tool_failed', 'VPN operation failed', (err as Error).message);
}
