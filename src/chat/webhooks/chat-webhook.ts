import { createHmac } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { waitAtMost } from '../../common/deadline';
import { MetricsService } from '../../metrics/metrics.service';
import type { ChatMessage } from '../chat.protocol';
import { ChatService } from '../chat.service';
import { ChatWebhookConfig, ChatWebhookSettings } from './chat-webhook.config';

/** What a receiver gets, in `{"events": [...]}`. */
export type ChatWebhookEvent =
  | ({ type: 'message' } & ChatMessage)
  | { type: 'join' | 'leave'; room: string; user: number | null; name: string; ts: string };

/** At most this many events per POST; more wait for the next one. */
const BATCH_MAX = 500;
/** On shutdown, how long the last events get to go out. */
const SHUTDOWN_FLUSH_MS = 3000;

/** `sha256=<hex>` of `<timestamp>.<body>` (the timestamp is X-Live-Timestamp): Stripe's scheme. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Outgoing chat events (CHAT_WEBHOOK_URL): each message posted on this instance, and each join and
 * leave of its sockets, POSTed as JSON in batches, signed (X-Live-Signature), retried with
 * exponential backoff while the receiver fails. The chat only appends to an array: delivery
 * never slows the fan-out, and a receiver that is down costs at most CHAT_WEBHOOK_QUEUE_MAX events
 * of memory (the oldest are dropped beyond it, counted in live_chat_webhook_events_total{outcome}).
 * Each instance sends its own events: a message is sent once, by the instance it was posted on.
 */
@Injectable()
export class ChatWebhook implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ChatWebhook');
  private readonly settings: ChatWebhookSettings | null;
  private queue: ChatWebhookEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    config: ChatWebhookConfig,
    private readonly metrics: MetricsService,
    private readonly chat: ChatService,
  ) {
    this.settings = config.webhook;
  }

  get enabled(): boolean {
    return this.settings !== null;
  }

  onModuleInit(): void {
    if (!this.settings) return;
    this.chat.observe({
      posted: (message) => this.message(message),
      joined: (client) => this.presence('join', client.room, client.userId, client.name),
      left: (client) => this.presence('leave', client.room, client.userId, client.name),
    });
    this.logger.log({ event: 'chat_webhook_enabled', url: new URL(this.settings.url).origin });
  }

  message(message: ChatMessage): void {
    this.push({ type: 'message', ...message });
  }

  presence(type: 'join' | 'leave', room: string, user: number | null, name: string): void {
    this.push({ type, room, user, name, ts: new Date().toISOString() });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.settings) return;
    // One last attempt for what is queued, bounded: shutdown does not wait for a dead receiver.
    await waitAtMost(
      (this.sending ?? Promise.resolve()).then(() => this.send()),
      SHUTDOWN_FLUSH_MS,
    );
  }

  private push(event: ChatWebhookEvent): void {
    if (!this.settings || this.stopped) return;
    this.queue.push(event);
    if (this.queue.length > this.settings.queueMax) {
      const dropped = this.queue.length - this.settings.queueMax;
      this.queue.splice(0, dropped);
      this.metrics.chatWebhookEvents.inc({ outcome: 'dropped' }, dropped);
    }
    this.schedule(this.settings.batchMs);
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.sending || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sending = this.send().finally(() => {
        this.sending = null;
        if (this.queue.length > 0 && this.settings) this.schedule(this.retryDelay());
      });
    }, delayMs);
    this.timer.unref();
  }

  /** After a failure, backoff doubling up to its ceiling; after a success, the batch interval. */
  private retryDelay(): number {
    const s = this.settings as ChatWebhookSettings;
    return this.failures === 0 ? s.batchMs : Math.min(s.maxBackoffMs, s.backoffMs * 2 ** (this.failures - 1));
  }

  /** Sends the oldest batch once; on success removes it, on failure keeps it for the retry. */
  private async send(): Promise<void> {
    const s = this.settings;
    if (!s || this.queue.length === 0) return;
    const batch = this.queue.slice(0, BATCH_MAX);
    const body = JSON.stringify({ events: batch });
    const timestamp = String(Math.floor(Date.now() / 1000));
    let failure: string;
    try {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'live-chat-webhook',
          'X-Live-Timestamp': timestamp,
          'X-Live-Signature': webhookSignature(s.secret, timestamp, body),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(s.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.settle(batch.length, 'delivered');
        if (this.failures > 0) this.logger.log({ event: 'chat_webhook_recovered', after: this.failures });
        this.failures = 0;
        return;
      }
      failure = `HTTP ${res.status}`;
      if (res.status < 500 && res.status !== 429 && res.status !== 408) {
        // The receiver refuses these events themselves: sending them again would not help.
        this.settle(batch.length, 'refused');
        this.logger.warn({ event: 'chat_webhook_refused', status: res.status, events: batch.length });
        this.failures = 0;
        return;
      }
    } catch (err) {
      failure =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${s.timeoutMs} ms`
          : (err as Error).message;
    }
    this.failures++;
    this.metrics.chatWebhookEvents.inc({ outcome: 'retried' }, batch.length);
    this.logger.warn({
      event: 'chat_webhook_failed',
      error: failure,
      events: batch.length,
      queued: this.queue.length,
      attempt: this.failures,
      retryInMs: this.retryDelay(),
    });
  }

  private settle(count: number, outcome: 'delivered' | 'refused'): void {
    this.queue.splice(0, count);
    this.metrics.chatWebhookEvents.inc({ outcome }, count);
  }
}
