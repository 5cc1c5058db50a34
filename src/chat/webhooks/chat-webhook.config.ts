import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { ConfigError, validateEnv } from '../../config/validate-env';

export class ChatWebhookEnv {
  /** Where each message, join and leave is POSTed (batched). Unset: no outgoing events. */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s/]+(\/\S*)?$/, { message: 'CHAT_WEBHOOK_URL must be an http:// or https:// URL' })
  CHAT_WEBHOOK_URL?: string;

  /** The HMAC-SHA256 key of the X-Live-Signature header; required with CHAT_WEBHOOK_URL. */
  @IsOptional()
  @Matches(/^[\x21-\x7e]{16,256}$/, {
    message: 'CHAT_WEBHOOK_SECRET must be 16 to 256 printable characters, no spaces',
  })
  CHAT_WEBHOOK_SECRET?: string;

  /** Events are sent at most this often (one POST with all that came meanwhile, up to 500). */
  @IsInt({ message: 'CHAT_WEBHOOK_BATCH_MS must be an integer from 10 to 60000' })
  @Min(10, { message: 'CHAT_WEBHOOK_BATCH_MS must be an integer from 10 to 60000' })
  @Max(60_000, { message: 'CHAT_WEBHOOK_BATCH_MS must be an integer from 10 to 60000' })
  CHAT_WEBHOOK_BATCH_MS: number = 1000;

  /** Events kept while the receiver is down; past it the oldest are dropped (and counted). */
  @IsInt({ message: 'CHAT_WEBHOOK_QUEUE_MAX must be an integer from 100 to 1000000' })
  @Min(100, { message: 'CHAT_WEBHOOK_QUEUE_MAX must be an integer from 100 to 1000000' })
  @Max(1_000_000, { message: 'CHAT_WEBHOOK_QUEUE_MAX must be an integer from 100 to 1000000' })
  CHAT_WEBHOOK_QUEUE_MAX: number = 10_000;
}

export interface ChatWebhookSettings {
  url: string;
  /** Never logged. */
  secret: string;
  batchMs: number;
  queueMax: number;
  /** One POST's time limit, and the first retry delay (doubling up to maxBackoffMs). */
  timeoutMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

/** CHAT_WEBHOOK_*: outgoing chat events, or null when CHAT_WEBHOOK_URL is unset. */
export class ChatWebhookConfig {
  readonly webhook: ChatWebhookSettings | null;

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>) {
    const e = validateEnv(ChatWebhookEnv, env);
    if (e.CHAT_WEBHOOK_URL && !e.CHAT_WEBHOOK_SECRET)
      throw new ConfigError(
        'Invalid configuration: CHAT_WEBHOOK_SECRET is required with CHAT_WEBHOOK_URL (receivers check the signature)',
      );
    this.webhook = e.CHAT_WEBHOOK_URL
      ? {
          url: e.CHAT_WEBHOOK_URL,
          secret: e.CHAT_WEBHOOK_SECRET as string,
          batchMs: e.CHAT_WEBHOOK_BATCH_MS,
          queueMax: e.CHAT_WEBHOOK_QUEUE_MAX,
          timeoutMs: 10_000,
          backoffMs: 1000,
          maxBackoffMs: 60_000,
        }
      : null;
  }
}
