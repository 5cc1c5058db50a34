import { createHash, randomBytes } from 'node:crypto';
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Repository } from 'typeorm';
import { User } from '../../auth/user.entity';
import { OpsEvents } from '../../common/ops-events';
import { JobLockService } from '../../database/job-lock.service';
import { ComponentHealth, HealthRegistry } from '../../health/health.registry';
import { MetricsService } from '../../metrics/metrics.service';
import { CertsConfig } from '../certs/certs.config';
import { VpnAudit, VpnClientMeta, VpnDownloadLink } from './vpn-audit.entity';
import { VpnConfig } from './vpn.config';
import { CLIENT_NAME, SERVER_URL, VpnClientCert, VpnRunner } from './vpn-runner';
import { VpnError } from './vpn.exception';
import { parseManagementTarget, VpnConnection, VpnManagement } from './vpn-management';

const DAY = 86_400_000;
/** A one-time link's lifetime (the issue's 24 h). */
export const LINK_TTL_MS = DAY;
/** The token in a one-time link: 32 random bytes, base64url. */
export const LINK_TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface VpnClientView extends VpnClientCert {
  owner: { id: number; username: string } | null;
  createdBy: string | null;
  createdAt: string | null;
  revokedBy: string | null;
  revokedAt: string | null;
}

export interface VpnCertExpiry {
  kind: 'ca' | 'server' | 'client';
  name: string;
  notBefore: string | null;
  notAfter: string | null;
  /** From then on the certificate is `expiring`. */
  warnFrom: string | null;
  state: 'ok' | 'expiring' | 'expired';
}

/**
 * When a certificate becomes `expiring`: the web certificates' fraction of its lifetime
 * (CERT_WARN_FRACTION), or VPN_CERT_WARN_DAYS before notAfter when that is earlier.
 */
export function certExpiry(
  notBefore: string | null,
  notAfter: string | null,
  fraction: number,
  warnDays: number | null,
  now = Date.now(),
): Pick<VpnCertExpiry, 'warnFrom' | 'state'> {
  if (!notAfter) return { warnFrom: null, state: 'ok' };
  const end = Date.parse(notAfter);
  const lifetime = notBefore ? end - Date.parse(notBefore) : 0;
  const warnFrom = end - Math.max(lifetime * fraction, (warnDays ?? 0) * DAY);
  const state = end <= now ? 'expired' : warnFrom <= now ? 'expiring' : 'ok';
  return { warnFrom: new Date(warnFrom).toISOString(), state };
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
  private management: VpnManagement | null = null;

  constructor(
    private readonly config: VpnConfig,
    private readonly runner: VpnRunner,
    private readonly lock: JobLockService,
    private readonly events: OpsEvents,
    private readonly health: HealthRegistry,
    @InjectRepository(VpnAudit) private readonly audit: Repository<VpnAudit>,
    @InjectRepository(VpnClientMeta) private readonly meta: Repository<VpnClientMeta>,
    @InjectRepository(VpnDownloadLink) private readonly links: Repository<VpnDownloadLink>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly metrics: MetricsService,
    private readonly certsConfig: CertsConfig,
  ) {}

  onModuleInit(): void {
    const target = this.config.management ? parseManagementTarget(this.config.management) : null;
    if (target) this.management = new VpnManagement(target, Math.min(this.config.timeoutMs, 5000));
    this.metrics.gauge(
      'live_vpn_connected_clients',
      'Clients connected to OpenVPN (management interface)',
      [],
      async (set) => {
        const list = await this.management?.connections().catch(() => null);
        if (list) set(list.length);
      },
    );
    this.metrics.gauge(
      'live_vpn_client_bytes',
      'Bytes through each connected VPN client since it connected',
      ['client', 'direction'],
      async (set) => {
        const list = await this.management?.connections().catch(() => null);
        for (const c of list ?? []) {
          set(c.bytesIn, { client: c.name, direction: 'in' });
          set(c.bytesOut, { client: c.name, direction: 'out' });
        }
      },
    );
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
      const clientError = ['invalid', 'forbidden', 'not_found', 'conflict', 'gone'].includes(kind);
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

  /** `owner`: a user id or username; unknown → invalid (400), checked before the PKI is touched. */
  async create(nameInput: unknown, actor: string, owner?: number | string): Promise<VpnClientView> {
    const name = this.validateName(nameInput);
    const ownerUser = owner === undefined ? null : await this.findOwner(owner);
    return this.operation(actor, 'create', name, async () => {
      const cert = await this.serialize(async () => {
        await this.runner.createClient(name);
        return (await this.runner.listClients()).find((c) => c.name === name);
      });
      const meta = {
        name,
        createdBy: actor,
        createdAt: Date.now(),
        revokedBy: null,
        revokedAt: null,
        ownerId: ownerUser?.id ?? null,
      };
      await this.meta.save(meta);
      const owners = new Map(ownerUser ? [[ownerUser.id, ownerUser.username]] : []);
      return this.view(cert ?? { name, status: 'VALID', notBefore: null, notAfter: null }, meta, owners);
    });
  }

  private async findOwner(owner: number | string): Promise<User> {
    const user =
      typeof owner === 'number'
        ? await this.users.findOneBy({ id: owner })
        : await this.users.findOneBy({ username: owner });
    if (!user) throw new VpnError('invalid', `user ${JSON.stringify(owner)} does not exist`);
    return user;
  }

  private async ownerNames(metas: VpnClientMeta[]): Promise<Map<number, string>> {
    const ids = [...new Set(metas.map((m) => m.ownerId).filter((id): id is number => id !== null))];
    if (ids.length === 0) return new Map();
    const users = await this.users.find({ where: { id: In(ids) }, select: { id: true, username: true } });
    return new Map(users.map((u) => [u.id, u.username]));
  }

  private view(
    cert: VpnClientCert,
    meta: Partial<VpnClientMeta> | undefined,
    owners: Map<number, string>,
  ): VpnClientView {
    const iso = (v: number | null | undefined) => (v ? new Date(v).toISOString() : null);
    const ownerId = meta?.ownerId ?? null;
    return {
      ...cert,
      owner: ownerId !== null && owners.has(ownerId) ? { id: ownerId, username: owners.get(ownerId)! } : null,
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
      const owners = await this.ownerNames(metas);
      return certs.map((c) => this.view(c, byName.get(c.name), owners));
    } catch (err) {
      throw asVpnError(err);
    }
  }

  /** The clients a user owns, as the PKI lists them (a client the PKI lost is left out). */
  async listOwnedBy(userId: number): Promise<VpnClientView[]> {
    try {
      const metas = await this.meta.findBy({ ownerId: userId });
      if (metas.length === 0) return [];
      const certs = await this.runner.listClients();
      const byName = new Map(metas.map((m) => [m.name, m]));
      const owners = await this.ownerNames(metas);
      return certs.filter((c) => byName.has(c.name)).map((c) => this.view(c, byName.get(c.name), owners));
    } catch (err) {
      throw asVpnError(err);
    }
  }

  /**
   * Self-service: the profile of a client the user owns. Someone else's client and a client that does
   * not exist answer the same 404, so a user learns nothing about names that are not theirs.
   */
  async ownProfile(user: User, nameInput: unknown): Promise<string> {
    if (!this.config.selfService)
      throw new VpnError('forbidden', 'VPN self-service is turned off (VPN_SELF_SERVICE=false); ask staff');
    const name = this.validateName(nameInput);
    const meta = await this.meta.findOneBy({ name, ownerId: user.id });
    if (!meta) throw new VpnError('not_found', `you have no VPN client "${name}"`);
    return this.profile(name, user.username);
  }

  ownClients(user: User): Promise<VpnClientView[]> {
    if (!this.config.selfService)
      throw new VpnError('forbidden', 'VPN self-service is turned off (VPN_SELF_SERVICE=false); ask staff');
    return this.listOwnedBy(user.id);
  }

  /**
   * A one-time download link for a valid client: the token is returned once, only its SHA-256 kept.
   * Audited as `link`; redeeming it is audited as `link_download` (actor `link:<id>`).
   */
  async createLink(nameInput: unknown, actor: string): Promise<{ token: string; expiresAt: string }> {
    const name = this.validateName(nameInput);
    return this.operation(actor, 'link', name, async () => {
      const cert = (await this.runner.listClients()).find((c) => c.name === name);
      if (!cert) throw new VpnError('not_found', `client "${name}" does not exist`);
      if (cert.status !== 'VALID')
        throw new VpnError(
          'gone',
          `client "${name}" is ${cert.status.toLowerCase()}: no profile to hand out`,
        );
      const token = randomBytes(32).toString('base64url');
      const now = Date.now();
      await this.links.insert({
        tokenHash: hashLinkToken(token),
        clientName: name,
        createdBy: actor,
        createdAt: now,
        expiresAt: now + LINK_TTL_MS,
        usedAt: null,
      });
      return { token, expiresAt: new Date(now + LINK_TTL_MS).toISOString() };
    });
  }

  /**
   * Redeems a one-time link: claimed with one conditional UPDATE (used_at IS NULL, not expired), so two
   * downloads at once cannot both win. Unknown, used and expired links are all 410 with the reason.
   */
  async redeemLink(token: unknown): Promise<{ name: string; profile: string }> {
    if (typeof token !== 'string' || !LINK_TOKEN.test(token))
      throw new VpnError('not_found', 'no such download link');
    const link = await this.links.findOneBy({ tokenHash: hashLinkToken(token) });
    if (!link) throw new VpnError('not_found', 'no such download link');
    const actor = `link:${link.id}`;
    const now = Date.now();
    return this.operation(actor, 'link_download', link.clientName, async () => {
      if (link.usedAt !== null)
        throw new VpnError(
          'gone',
          `this download link was already used at ${new Date(link.usedAt).toISOString()}`,
        );
      if (link.expiresAt <= now)
        throw new VpnError('gone', `this download link expired at ${new Date(link.expiresAt).toISOString()}`);
      const claimed = await this.links
        .createQueryBuilder()
        .update(VpnDownloadLink)
        .set({ usedAt: now })
        .where({ id: link.id, usedAt: IsNull() })
        .execute();
      if (!claimed.affected) throw new VpnError('gone', 'this download link was already used');
      const cert = (await this.runner.listClients()).find((c) => c.name === link.clientName);
      if (!cert || cert.status !== 'VALID')
        throw new VpnError('gone', `client "${link.clientName}" is no longer valid`);
      return { name: link.clientName, profile: await this.runner.getProfile(link.clientName) };
    });
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
        ...(existing ?? { name, createdBy: null, createdAt: null, ownerId: null }),
        revokedBy: actor,
        revokedAt: Date.now(),
      });
    });
    await this.disconnectRevoked(name);
    this.healthCache = null;
  }

  /** Re-issues a client under the same name: a new profile; the old certificate is revoked. Audited. */
  async renew(nameInput: unknown, actor: string): Promise<VpnClientView> {
    const name = this.validateName(nameInput);
    const view = await this.operation(actor, 'renew', name, async () => {
      const cert = await this.serialize(async () => {
        await this.runner.renewClient(name);
        return (await this.runner.listClients()).find((c) => c.name === name);
      });
      await this.disconnectRevoked(name);
      const meta = await this.meta.findOneBy({ name });
      return this.view(
        cert ?? { name, status: 'VALID', notBefore: null, notAfter: null },
        meta ?? undefined,
        await this.ownerNames(meta ? [meta] : []),
      );
    });
    this.healthCache = null;
    return view;
  }

  /** notAfter of the CA, the server certificate and every valid or expired client, with its state. */
  async certificates(): Promise<VpnCertExpiry[]> {
    try {
      const [pki, clients] = await Promise.all([this.runner.pkiCerts(), this.runner.listClients()]);
      const rows: Array<Omit<VpnCertExpiry, 'warnFrom' | 'state'>> = [
        { kind: 'ca', name: 'CA', ...pki.ca },
        ...(pki.server ? [{ kind: 'server' as const, ...pki.server }] : []),
        ...clients
          .filter((c) => c.status === 'VALID' || c.status === 'EXPIRED')
          .map((c) => ({
            kind: 'client' as const,
            name: c.name,
            notBefore: c.notBefore,
            notAfter: c.notAfter,
          })),
      ];
      return rows.map((r) => ({
        ...r,
        ...certExpiry(r.notBefore, r.notAfter, this.certsConfig.warnFraction, this.config.certWarnDays),
      }));
    } catch (err) {
      throw asVpnError(err);
    }
  }

  /**
   * Publishes `vpn.cert_expiring` for every expiring or expired certificate (deduped per certificate by
   * the alerts module); critical for the CA and the server, whose expiry stops every client.
   */
  async checkExpiry(): Promise<VpnCertExpiry[]> {
    const certs = await this.certificates();
    const due = certs.filter((c) => c.state !== 'ok');
    for (const c of due) {
      const what =
        c.kind === 'client'
          ? `VPN client ${c.name}`
          : c.kind === 'ca'
            ? 'the VPN CA'
            : `the VPN server certificate ${c.name}`;
      this.events.publish({
        event: 'vpn.cert_expiring',
        severity: c.kind === 'client' ? 'warning' : 'critical',
        subject: `${what} ${c.state === 'expired' ? 'has expired' : 'expires soon'}`,
        detail:
          `notAfter ${c.notAfter}` +
          (c.kind === 'client'
            ? `; renew: POST /admin/vpn/clients/${c.name}/renew`
            : c.kind === 'ca'
              ? '; when the CA expires no client or server certificate verifies: see the README (VPN, renewing the server and the CA)'
              : '; every client is refused once it expires: see the README (VPN, renewing the server certificate)'),
        dedupeKey: `vpn.cert_expiring:${c.kind}:${c.name}`,
      });
    }
    this.logger.log({ event: 'vpn_expiry_checked', certificates: certs.length, due: due.map((c) => c.name) });
    this.healthCache = null;
    return certs;
  }

  private requireManagement(): VpnManagement {
    if (!this.management)
      throw new VpnError(
        'unavailable',
        'the OpenVPN management interface is not configured (set VPN_MANAGEMENT, like 127.0.0.1:7505)',
      );
    return this.management;
  }

  /** Who is connected now: OpenVPN's own list (`status 3`). 503 with the reason when it cannot be asked. */
  connections(): Promise<VpnConnection[]> {
    return this.requireManagement().connections();
  }

  /** Disconnects every session of a client (`kill <cn>`); 404 when it is not connected. Audited. */
  async disconnect(nameInput: unknown, actor: string): Promise<void> {
    const name = this.validateName(nameInput);
    const management = this.requireManagement();
    await this.operation(actor, 'disconnect', name, async () => {
      if (!(await management.kill(name)))
        throw new VpnError('not_found', `client "${name}" is not connected`);
    });
  }

  /** After a revocation: OpenVPN checks the CRL only at the next handshake, so end the open session now. */
  private async disconnectRevoked(name: string): Promise<void> {
    if (!this.management) return;
    try {
      const killed = await this.management.kill(name);
      if (killed > 0)
        this.logger.log({ event: 'vpn_revoked_client_disconnected', client: name, sessions: killed });
    } catch (err) {
      this.logger.warn({
        event: 'vpn_disconnect_after_revoke_failed',
        client: name,
        error: (err as Error).message,
      });
    }
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
      const core = (await this.certificates()).filter((c) => c.kind !== 'client' && c.state !== 'ok');
      if (core.length > 0)
        value = {
          status: 'degraded',
          detail: core
            .map(
              (c) =>
                `${c.kind === 'ca' ? 'CA' : `server certificate ${c.name}`} ${c.state} (notAfter ${c.notAfter})`,
            )
            .join('; '),
        };
      else if (!nextUpdate) value = { status: 'degraded', detail: 'no CRL' };
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

export function hashLinkToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Anything else that broke a VPN operation (a runner bug, the database) is reported as a tool failure. */
function asVpnError(err: unknown): VpnError {
  return err instanceof VpnError
    ? err
    : new VpnError('tool_failed', 'VPN operation failed', (err as Error).message);
}
