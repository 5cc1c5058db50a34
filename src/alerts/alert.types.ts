import type { OpsEvent } from '../common/ops-events';

/** An alert as the channels send it: an ops event plus the time it was raised. */
export interface Alert extends OpsEvent {
  at: Date;
}

export type AlertOutcome = 'sent' | 'failed' | 'suppressed';

/** One way of reaching a person. `send` resolves with the attempts made or rejects with AlertSendError. */
export interface AlertChannel {
  readonly name: string;
  send(alert: Alert): Promise<{ attempts: number }>;
}

export class AlertSendError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'AlertSendError';
  }
}

/** The one-line human text shared by the webhook `text` field and the email subject. */
export function alertTitle(alert: Pick<Alert, 'severity' | 'subject'>): string {
  return `[live] ${alert.severity}: ${alert.subject}`;
}
