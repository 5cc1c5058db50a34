import { validateCronExpression } from 'cron';
import { AlertsConfig } from '../alerts/alerts.config';
import { ChatConfig } from '../chat/chat.config';
import { MetricsConfig } from '../metrics/metrics.config';
import { CertsConfig } from '../ops/certs/certs.config';
import { VpnConfig } from '../ops/vpn/vpn.config';
import { AppConfig } from './app.config';
import { ConfigError } from './validate-env';

const CRON_VARIABLES = ['CHAT_RETENTION_CRON', 'CERT_RENEW_CRON', 'VPN_CRL_CRON'] as const;

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

/**
 * Reads every feature's configuration once, before Nest starts, and returns every problem found,
 * one line each (empty when all is well). Without it, a bad CHAT_RATE or VPN_RUNNER surfaced as a
 * stack trace from inside a module factory, one problem per attempt.
 */
export function checkConfiguration(env: Env): string[] {
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
  attempt(() => new ChatConfig(env));
  attempt(() => new AlertsConfig(env));
  attempt(() => new MetricsConfig(env));
  // These two place their defaults under DATA_DIR: they need a valid core configuration.
  if (app) attempt(() => new CertsConfig(env, app));
  if (app) attempt(() => new VpnConfig(env, app.dataDir));
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
  return lines;
}
