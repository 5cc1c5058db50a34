import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The Prometheus registry of this process and the metrics the features update. Features that
 * report state (sockets, certificates, VPN clients) add gauges with a `collect` callback, read at
 * scrape time, so nothing is updated on the hot path that a scrape could compute.
 */
@Injectable()
export class MetricsService {
  /** Our own registry (not prom-client's global one): several apps in one test process stay apart. */
  readonly registry = new Registry();

  readonly chatMessagesReceived = new Counter({
    name: 'live_chat_messages_received_total',
    help: 'Chat messages accepted from this instance’s sockets',
    registers: [this.registry],
  });
  readonly chatMessagesDelivered = new Counter({
    name: 'live_chat_messages_delivered_total',
    help: 'Chat message frames written to this instance’s sockets',
    registers: [this.registry],
  });
  readonly chatBroadcastSeconds = new Histogram({
    name: 'live_chat_broadcast_seconds',
    help: 'Time to fan one message out to the sockets of its room on this instance',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    registers: [this.registry],
  });
  /** The periodic re-check of the sessions behind open sockets (one read for all of them). */
  readonly chatSessionRecheckSeconds = new Histogram({
    name: 'live_chat_session_recheck_seconds',
    help: 'Time to re-check the sessions behind this instance’s logged-in sockets',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly chatSocketsClosed = new Counter({
    name: 'live_chat_sockets_closed_total',
    help: 'Chat sockets closed, by close code and reason',
    labelNames: ['code', 'reason'],
    registers: [this.registry],
  });
  /** Outgoing chat events (CHAT_WEBHOOK_URL): delivered, refused (4xx), retried (per attempt) or dropped. */
  readonly chatWebhookEvents = new Counter({
    name: 'live_chat_webhook_events_total',
    help: 'Outgoing chat webhook events by outcome (delivered, refused, retried, dropped)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  /**
   * Chat messages that will never be saved: `rejected` (the database refused the row itself, e.g.
   * a value it cannot hold; the other rows of its batch were saved) or `overflow` (the database
   * was down so long that the oldest unsaved messages were dropped).
   */
  readonly chatHistoryDropped = new Counter({
    name: 'live_chat_history_dropped_total',
    help: 'Chat messages dropped from history, by reason (rejected by the database, queue overflow)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'live_auth_logins_total',
    help: 'Login attempts by outcome (success, failure, throttled)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'live_' });
    for (const outcome of ['success', 'failure', 'throttled']) this.logins.inc({ outcome }, 0);
    for (const reason of ['rejected', 'overflow']) this.chatHistoryDropped.inc({ reason }, 0);
  }

  /** A gauge whose value is read when Prometheus scrapes. */
  gauge(
    name: string,
    help: string,
    labelNames: string[],
    collect: (set: (value: number, labels?: Record<string, string>) => void) => void | Promise<void>,
  ): Gauge {
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        await collect((value, labels) => (labels ? this.set(labels, value) : this.set(value)));
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
