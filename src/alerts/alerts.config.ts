import { isEmail, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, validateEnv } from '../config/validate-env';

export class AlertsEnv {
  @IsOptional()
  @Matches(/^https?:\/\/[^\s/]+(\/\S*)?$/, {
    message: 'ALERT_WEBHOOK_URL must be an http:// or https:// URL',
  })
  ALERT_WEBHOOK_URL?: string;

  @IsInt()
  @Min(100, { message: 'ALERT_WEBHOOK_TIMEOUT_MS must be an integer 100..120000' })
  @Max(120_000, { message: 'ALERT_WEBHOOK_TIMEOUT_MS must be an integer 100..120000' })
  ALERT_WEBHOOK_TIMEOUT_MS: number = 10_000;

  /** Retries after the first attempt (so 3 means up to 4 requests). */
  @IsInt()
  @Min(0, { message: 'ALERT_WEBHOOK_RETRIES must be an integer 0..10' })
  @Max(10, { message: 'ALERT_WEBHOOK_RETRIES must be an integer 0..10' })
  ALERT_WEBHOOK_RETRIES: number = 3;

  /** Wait before retry n is base × 2^(n-1). */
  @IsInt()
  @Min(1, { message: 'ALERT_WEBHOOK_BACKOFF_MS must be an integer 1..60000' })
  @Max(60_000, { message: 'ALERT_WEBHOOK_BACKOFF_MS must be an integer 1..60000' })
  ALERT_WEBHOOK_BACKOFF_MS: number = 500;

  @IsOptional()
  @Matches(/^smtps?:\/\/([^\s:@/]+(:[^\s@/]*)?@)?[^\s:@/]+(:\d{1,5})?\/?$/, {
    message: 'ALERT_SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://…',
  })
  ALERT_SMTP_URL?: string;

  @IsInt()
  @Min(100, { message: 'ALERT_SMTP_TIMEOUT_MS must be an integer 100..120000' })
  @Max(120_000, { message: 'ALERT_SMTP_TIMEOUT_MS must be an integer 100..120000' })
  ALERT_SMTP_TIMEOUT_MS: number = 15_000;

  @IsOptional()
  @IsString()
  ALERT_EMAIL_FROM?: string;

  @IsOptional()
  @IsString()
  ALERT_EMAIL_TO?: string;
}

export interface WebhookSettings {
  url: string;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
}

export interface EmailSettings {
  smtpUrl: string;
  timeoutMs: number;
  from: string;
  to: string[];
}

/** Which alert channels are configured. None configured is valid: alerts are then only logged. */
export class AlertsConfig {
  readonly webhook: WebhookSettings | null;
  readonly email: EmailSettings | null;

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>) {
    const e = validateEnv(AlertsEnv, env);
    this.webhook = e.ALERT_WEBHOOK_URL
      ? {
          url: e.ALERT_WEBHOOK_URL,
          timeoutMs: e.ALERT_WEBHOOK_TIMEOUT_MS,
          retries: e.ALERT_WEBHOOK_RETRIES,
          backoffMs: e.ALERT_WEBHOOK_BACKOFF_MS,
        }
      : null;
    const trio = {
      ALERT_SMTP_URL: e.ALERT_SMTP_URL,
      ALERT_EMAIL_FROM: e.ALERT_EMAIL_FROM,
      ALERT_EMAIL_TO: e.ALERT_EMAIL_TO,
    };
    const set = Object.entries(trio).filter(([, v]) => v !== undefined);
    if (set.length > 0 && set.length < 3) {
      const missing = Object.keys(trio).filter((k) => trio[k as keyof typeof trio] === undefined);
      throw new ConfigError(
        `Invalid configuration: ALERT_SMTP_URL, ALERT_EMAIL_FROM and ALERT_EMAIL_TO must be set together (missing ${missing.join(', ')})`,
      );
    }
    if (set.length === 3) {
      const from = (e.ALERT_EMAIL_FROM as string).trim();
      if (!isEmail(from))
        throw new ConfigError(
          `Invalid configuration: ALERT_EMAIL_FROM=${JSON.stringify(e.ALERT_EMAIL_FROM)}: must be an email address`,
        );
      const to = (e.ALERT_EMAIL_TO as string)
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const bad = to.find((s) => !isEmail(s));
      if (to.length === 0 || bad !== undefined)
        throw new ConfigError(
          `Invalid configuration: ALERT_EMAIL_TO=${JSON.stringify(e.ALERT_EMAIL_TO)}: must be a comma-separated list of email addresses${bad !== undefined ? ` (${JSON.stringify(bad)} is not one)` : ''}`,
        );
      this.email = { smtpUrl: e.ALERT_SMTP_URL as string, timeoutMs: e.ALERT_SMTP_TIMEOUT_MS, from, to };
    } else {
      this.email = null;
    }
  }
}
