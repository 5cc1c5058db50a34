import { validateCronExpression } from 'cron';
import { AlertsConfig } from '../alerts/alerts.config';
import { ChatConfig } from '../chat/chat.config';
import { ChatWebhookConfig } from '../chat/webhooks/chat-webhook.config';
import { MetricsConfig } from '../metrics/metrics.config';
import { CertsConfig } from '../ops/certs/certs.config';
import { VpnConfig } from '../ops/vpn/vpn.config';
import { AppConfig } from './app.config';
import { ConfigError } from './validate-env';

const CRON_VARIABLES = ['CHAT_RETENTION_CRON', 'CERT_RENEW_CRON', 'VPN_CRL_CRON'] as const;

export type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

/**
 * Every feature's typed configuration, read and validated once before Nest starts. The app module
 * provides each part for injection (`constructor(private readonly config: ChatConfig)`), so no
 * feature reads `process.env` and a test builds its configuration from a plain object.
 */
export class LiveConfiguration {
  constructor(
    readonly app: AppConfig,
    readonly chat: ChatConfig,
    readonly alerts: AlertsConfig,
    readonly metrics: MetricsConfig,
    readonly certs: CertsConfig,
    readonly vpn: VpnConfig,
    readonly chatWebhook: ChatWebhookConfig,
  ) {}
}

/** All the problems found in one reading of the environment, one line each. */
export class ConfigurationProblems extends ConfigError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigurationProblems';
  }
}

/**
 * Reads every feature's configuration from `env`. Throws ConfigurationProblems listing every
 * problem (each names its variable, never a secret value) rather than stopping at the first.
 */
export function loadConfiguration(env: Env): LiveConfiguration {
  const lines: string[] = [];
  const attempt = <T>(build: () => T): T | null => {
    try {
      return build();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      lines.push(...err.message.split('\n'));
      return null;
    }
  };
  const app = attempt(() => new AppConfig(env));
  const chat = attempt(() => new ChatConfig(env));
  const alerts = attempt(() => new AlertsConfig(env));
  const metrics = attempt(() => new MetricsConfig(env));
  const chatWebhook = attempt(() => new ChatWebhookConfig(env));
  // These two place their defaults under DATA_DIR: they need a valid core configuration.
  const certs = app && attempt(() => new CertsConfig(env, app));
  const vpn = app && attempt(() => new VpnConfig(env, app.dataDir));
  // The cron fields themselves (the feature classes only check the shape), whatever else failed.
  for (const name of CRON_VARIABLES) {
    const expression = env[name];
    if (!expression || expression === 'off') continue;
    if (lines.some((l) => l.startsWith(`Invalid configuration: ${name}=`))) continue; // already said
    const { valid, error } = validateCronExpression(expression);
    if (!valid)
      lines.push(
        `Invalid configuration: ${name}=${JSON.stringify(expression)}: not a cron expression or "off"` +
          (error ? ` (${error.message})` : ''),
      );
  }
  if (lines.length > 0 || !app || !chat || !alerts || !metrics || !certs || !vpn || !chatWebhook)
    throw new ConfigurationProblems(lines);
  return new LiveConfiguration(app, chat, alerts, metrics, certs, vpn, chatWebhook);
}

/** The problems `loadConfiguration` would report (empty when the configuration is usable). */
export function checkConfiguration(env: Env): string[] {
  try {
    loadConfiguration(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigurationProblems) return err.problems;
    throw err;
  }
}
