import { setTimeout as sleep } from 'node:timers/promises';
import type { WebhookSettings } from './alerts.config';
import { Alert, AlertChannel, AlertSendError, alertTitle } from './alert.types';

export interface WebhookBody {
  event: string;
  severity: string;
  subject: string;
  detail: string;
  at: string;
  /** What Slack/Mattermost incoming webhooks display; other receivers can ignore it. */
  text: string;
}

/** Slack's mrkdwn needs only &, < and > escaped; Mattermost renders the same text fine. */
function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function webhookBody(alert: Alert): WebhookBody {
  return {
    event: alert.event,
    severity: alert.severity,
    subject: alert.subject,
    detail: alert.detail,
    at: alert.at.toISOString(),
    text: escapeSlack(`${alertTitle(alert)}\n${alert.detail}`),
  };
}

/** Retried: network errors, timeouts, 5xx and 429. Not retried: other 4xx (the request itself is wrong). */
function retryable(status: number): boolean {
  return status >= 500 || status === 429;
}

/** JSON POST with a per-attempt timeout and exponential backoff between attempts. */
export class WebhookChannel implements AlertChannel {
  readonly name = 'webhook';

  constructor(private readonly settings: WebhookSettings) {}

  async send(alert: Alert): Promise<{ attempts: number }> {
    const body = JSON.stringify(webhookBody(alert));
    const maxAttempts = this.settings.retries + 1;
    let lastError = '';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(this.settings.backoffMs * 2 ** (attempt - 2));
      try {
        const res = await fetch(this.settings.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'User-Agent': 'live-alerts' },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(this.settings.timeoutMs),
        });
        // Drain the body so the connection is released; its content does not matter.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return { attempts: attempt };
        lastError = `HTTP ${res.status}`;
        if (!retryable(res.status)) throw new AlertSendError(`webhook answered ${lastError}`, attempt);
      } catch (err) {
        if (err instanceof AlertSendError) throw err;
        const e = err as Error & { cause?: Error };
        lastError =
          e.name === 'TimeoutError'
            ? `timed out after ${this.settings.timeoutMs} ms`
            : `${e.message}${e.cause?.message ? `: ${e.cause.message}` : ''}`;
      }
    }
    throw new AlertSendError(`webhook failed after ${maxAttempts} attempt(s): ${lastError}`, maxAttempts);
  }
}
