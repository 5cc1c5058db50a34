import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { AppConfig } from '../../config/app.config';
import { ConfigError, validateEnv } from '../../config/validate-env';

export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';

export class CertsEnv {
  @IsString()
  @Matches(/^[^\0]+$/, { message: 'CERTBOT_BIN must be a program name or path' })
  CERTBOT_BIN: string = 'certbot';

  @IsOptional() @IsString() CERTBOT_CONFIG_DIR?: string;
  @IsOptional() @IsString() CERTBOT_WORK_DIR?: string;
  @IsOptional() @IsString() CERTBOT_LOGS_DIR?: string;
  @IsOptional() @IsString() ACME_WEBROOT?: string;

  @IsString()
  @Matches(/^https?:\/\/\S+$/, { message: 'CERTBOT_SERVER must be an ACME directory URL (https://…)' })
  CERTBOT_SERVER: string = LETS_ENCRYPT_PRODUCTION;

  @IsOptional()
  @IsString()
  CERTBOT_DEPLOY_HOOK?: string;

  @IsOptional()
  @Matches(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: 'CERTBOT_EMAIL must be an email address' })
  CERTBOT_EMAIL?: string;

  @IsInt()
  @Min(1, { message: 'CERT_WARN_DAYS must be an integer from 1 to 365' })
  @Max(365, { message: 'CERT_WARN_DAYS must be an integer from 1 to 365' })
  CERT_WARN_DAYS: number = 14;

  @IsOptional()
  @Matches(/^(off|(\S+\s+){4,5}\S+)$/, { message: 'CERT_RENEW_CRON must be a cron expression or "off"' })
  CERT_RENEW_CRON?: string;

  /** certbot retries for about 40 s when the ACME server is unreachable: leave it room. */
  @IsInt()
  @Min(60_000, { message: 'CERTBOT_TIMEOUT_MS must be at least 60000' })
  CERTBOT_TIMEOUT_MS: number = 10 * 60_000;
}

export class CertsConfig {
  readonly certbotBin: string;
  readonly configDir: string;
  readonly workDir: string;
  readonly logsDir: string;
  readonly webroot: string;
  readonly server: string;
  readonly deployHook: string | undefined;
  readonly email: string | undefined;
  readonly warnDays: number;
  /** null: scheduled renewal is off. */
  readonly renewCron: string | null;
  readonly timeoutMs: number;

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>, app: AppConfig) {
    const e = validateEnv(CertsEnv, env);
    const base = join(app.dataDir, 'certbot');
    this.certbotBin = e.CERTBOT_BIN;
    this.configDir = e.CERTBOT_CONFIG_DIR ?? join(base, 'config');
    this.workDir = e.CERTBOT_WORK_DIR ?? join(base, 'work');
    this.logsDir = e.CERTBOT_LOGS_DIR ?? join(base, 'logs');
    this.webroot = e.ACME_WEBROOT ?? join(app.dataDir, 'acme-webroot');
    this.server = e.CERTBOT_SERVER;
    if (e.CERTBOT_DEPLOY_HOOK !== undefined) {
      if (!isAbsolute(e.CERTBOT_DEPLOY_HOOK) || !existsSync(e.CERTBOT_DEPLOY_HOOK))
        throw new ConfigError(
          `Invalid configuration: CERTBOT_DEPLOY_HOOK="${e.CERTBOT_DEPLOY_HOOK}": must be the absolute path of an existing executable`,
        );
    }
    this.deployHook = e.CERTBOT_DEPLOY_HOOK;
    this.email = e.CERTBOT_EMAIL;
    this.warnDays = e.CERT_WARN_DAYS;
    this.timeoutMs = e.CERTBOT_TIMEOUT_MS;
    const cron = e.CERT_RENEW_CRON ?? defaultRenewCron(app.dataDir);
    this.renewCron = cron === 'off' ? null : cron;
  }
}

/**
 * certbot's advice: renew twice a day at a random minute, so not every server hits Let's Encrypt
 * at :00. The minute and hour are drawn once per installation and kept in the data folder.
 */
function defaultRenewCron(dataDir: string): string {
  const file = join(dataDir, 'cert-renew-schedule');
  try {
    const saved = readFileSync(file, 'utf8').trim();
    if (/^\d{1,2} \d{1,2},\d{1,2} \* \* \*$/.test(saved)) return saved;
  } catch {
    /* first run */
  }
  const hour = randomInt(0, 12);
  const cron = `${randomInt(0, 60)} ${hour},${hour + 12} * * *`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, cron + '\n');
  return cron;
}
