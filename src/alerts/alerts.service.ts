import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import { OpsEvent, OpsEvents } from '../common/ops-events';
import { AlertEntity } from './alert.entity';
import { Alert, AlertChannel, AlertOutcome, AlertSendError } from './alert.types';
import { AlertsConfig } from './alerts.config';
import { AlertsError } from './alerts.exception';
import { EmailChannel } from './email.channel';
import { WebhookChannel } from './webhook.channel';

export const DEDUPE_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface AlertResult {
  channel: string;
  outcome: AlertOutcome;
  attempts: number;
  error: string | null;
}

export interface AlertView {
  id: number;
  event: string;
  severity: string;
  subject: string;
  detail: string;
  dedupeKey: string | null;
  channel: string;
  outcome: AlertOutcome;
  error: string | null;
  attempts: number;
  createdAt: string;
}

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * Turns ops events into alerts on every configured channel. Channels run concurrently; one that fails
 * or hangs never blocks the others, and `raise` never throws into the job that raised the alert.
 *
 * Dedupe: an alert with a dedupeKey is sent on a channel at most once per 24 hours — if that channel
 * has a `sent` row for the key in the last 24 h, the alert is recorded as `suppressed` (visible in
 * GET /admin/alerts) and not sent. A `failed` delivery does not count, so the next occurrence retries.
 * The check reads the alerts table, so it holds across restarts and instances.
 */
@Injectable()
export class AlertsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AlertsService.name);
  readonly channels: AlertChannel[];
  private unsubscribe: (() => void) | null = null;
  private readonly pending = new Set<Promise<unknown>>();
  /** `key|channel` being delivered right now in this process, so concurrent duplicates are suppressed too. */
  private readonly inFlight = new Set<string>();

  constructor(
    config: AlertsConfig,
    private readonly opsEvents: OpsEvents,
    @InjectRepository(AlertEntity) private readonly alerts: Repository<AlertEntity>,
  ) {
    this.channels = [];
    if (config.webhook) this.channels.push(new WebhookChannel(config.webhook));
    if (config.email) this.channels.push(new EmailChannel(config.email));
  }

  onModuleInit(): void {
    this.unsubscribe = this.opsEvents.subscribe((event) => this.raise(event).then(() => undefined));
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe?.();
    // Let deliveries under way finish (each is bounded by its channel's timeouts) before the DB closes.
    await Promise.allSettled([...this.pending]);
    for (const c of this.channels) if (c instanceof EmailChannel) c.close();
  }

  /** Sends the alert to every configured channel and records one row per channel. Never throws. */
  raise(event: OpsEvent): Promise<AlertResult[]> {
    const p = this.deliverAll(event).catch((err: Error) => {
      this.logger.error({ event: 'alert_raise_failed', alert: event.event, error: err.message });
      return [] as AlertResult[];
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  /** POST /admin/alerts/test: a test alert on every channel, each channel's outcome. */
  sendTest(): Promise<AlertResult[]> {
    if (this.channels.length === 0)
      throw new AlertsError(
        'conflict',
        'No alert channel is configured: set ALERT_WEBHOOK_URL and/or ALERT_SMTP_URL, ALERT_EMAIL_FROM, ALERT_EMAIL_TO',
      );
    return this.raise({
      event: 'alert.test',
      severity: 'info',
      subject: 'Test alert',
      detail: 'This is a test alert sent from POST /admin/alerts/test. If you read this, the channel works.',
    });
  }

  async list(limit: number): Promise<AlertView[]> {
    const rows = await this.alerts.find({ order: { createdAt: 'DESC', id: 'DESC' }, take: limit });
    return rows.map((r) => ({
      id: r.id,
      event: r.event,
      severity: r.severity,
      subject: r.subject,
      detail: r.detail,
      dedupeKey: r.dedupeKey,
      channel: r.channel,
      outcome: r.outcome,
      error: r.error,
      attempts: r.attempts,
      createdAt: new Date(r.createdAt).toISOString(),
    }));
  }

  private async deliverAll(event: OpsEvent): Promise<AlertResult[]> {
    const alert: Alert = {
      event: clip(String(event.event), 100),
      severity: event.severity,
      subject: clip(String(event.subject), 300),
      detail: clip(String(event.detail), 20_000),
      dedupeKey: event.dedupeKey ? clip(event.dedupeKey, 300) : undefined,
      at: new Date(),
    };
    if (this.channels.length === 0) {
      this.logger.warn({
        event: 'alert_no_channel',
        alert: alert.event,
        severity: alert.severity,
        subject: alert.subject,
      });
      return [];
    }
    return Promise.all(this.channels.map((channel) => this.deliver(channel, alert)));
  }

  private async deliver(channel: AlertChannel, alert: Alert): Promise<AlertResult> {
    const started = Date.now();
    let result: AlertResult;
    const flightKey = alert.dedupeKey ? `${alert.dedupeKey}|${channel.name}` : null;
    if (
      flightKey &&
      (this.inFlight.has(flightKey) || (await this.sentRecently(alert.dedupeKey!, channel.name)))
    ) {
      result = { channel: channel.name, outcome: 'suppressed', attempts: 0, error: null };
    } else {
      if (flightKey) this.inFlight.add(flightKey);
      try {
        const { attempts } = await channel.send(alert);
        result = { channel: channel.name, outcome: 'sent', attempts, error: null };
      } catch (err) {
        const attempts = err instanceof AlertSendError ? err.attempts : 1;
        result = {
          channel: channel.name,
          outcome: 'failed',
          attempts,
          error: clip((err as Error).message, 2000),
        };
        this.logger.error({
          event: 'alert_channel_failed',
          channel: channel.name,
          alert: alert.event,
          subject: alert.subject,
          dedupeKey: alert.dedupeKey ?? null,
          attempts,
          ms: Date.now() - started,
          error: result.error,
        });
      }
    }
    try {
      await this.alerts.insert({
        event: alert.event,
        severity: alert.severity,
        subject: alert.subject,
        detail: alert.detail,
        dedupeKey: alert.dedupeKey ?? null,
        channel: channel.name,
        outcome: result.outcome,
        error: result.error,
        attempts: result.attempts,
        createdAt: alert.at.getTime(),
      });
    } finally {
      if (flightKey && result.outcome !== 'suppressed') this.inFlight.delete(flightKey);
    }
    this.logger.log({
      event: 'alert_delivered',
      channel: channel.name,
      alert: alert.event,
      outcome: result.outcome,
      attempts: result.attempts,
      ms: Date.now() - started,
    });
    return result;
  }

  private async sentRecently(dedupeKey: string, channel: string): Promise<boolean> {
    const count = await this.alerts.count({
      where: { dedupeKey, channel, outcome: 'sent', createdAt: MoreThan(Date.now() - DEDUPE_WINDOW_MS) },
    });
    return count > 0;
  }
}
