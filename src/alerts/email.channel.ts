import { createTransport, Transporter } from 'nodemailer';
import type { EmailSettings } from './alerts.config';
import { Alert, AlertChannel, AlertSendError, alertTitle } from './alert.types';

export function emailText(alert: Alert): string {
  return [
    alertTitle(alert),
    '',
    alert.detail,
    '',
    `Event: ${alert.event}`,
    `Severity: ${alert.severity}`,
    `Time: ${alert.at.toISOString()}`,
    '',
  ].join('\n');
}

/** Plain-text email through the SMTP server of ALERT_SMTP_URL; one attempt (the SMTP server queues and retries). */
export class EmailChannel implements AlertChannel {
  readonly name = 'email';
  private readonly transport: Transporter;

  constructor(private readonly settings: EmailSettings) {
    this.transport = createTransport({
      url: settings.smtpUrl,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
    } as Parameters<typeof createTransport>[0]);
  }

  async send(alert: Alert): Promise<{ attempts: number }> {
    try {
      await this.transport.sendMail({
        from: this.settings.from,
        to: this.settings.to,
        subject: alertTitle(alert).replace(/[\r\n]+/g, ' '),
        text: emailText(alert),
      });
      return { attempts: 1 };
    } catch (err) {
      throw new AlertSendError(`email failed: ${(err as Error).message}`, 1);
    }
  }

  close(): void {
    this.transport.close();
  }
}
