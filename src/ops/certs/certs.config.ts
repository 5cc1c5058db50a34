import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { AppConfig } from '../../config/app.config';
import { EnvRule } from '../../config/env-rule';
import { ConfigError, validateEnv } from '../../config/validate-env';

export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** One word of a hook command: certbot runs hooks through a shell, so no shell syntax at all. */
const HOOK_WORD = /^[A-Za-z0-9_./:=@+-]{1,1024}$/;

/** An absolute program path and plain words: nothing a shell would read as syntax. */
function isHookCommand(value: string): boolean {
  const words = value.trim().split(/\s+/);
  return words[0].startsWith('/') && words.every((w) => HOOK_WORD.test(w));
}

/** `1/3`, `0.33`: a fraction of a certificate's lifetime, from 1/100 to 9/10. */
export function parseFraction(value: string): number | null {
  const m = /^(?:(\d{1,3})\/(\d{1,3})|(0?\.\d{1,6}))$/.exec(value.trim());
  if (!m) return null;
  const f = m[3] !== undefined ? Number(m[3]) : Number(m[1]) / Number(m[2]);
  return Number.isFinite(f) && f >= 0.01 && f <= 0.9 ? f : null;
}

/** `host:port` or `[v6]:port` for the served-certificate check. */
export function parseCheckAddress(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

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

  @IsOptional()
  @IsBoolean({ message: 'CERTBOT_STAGING must be true or false' })
  @EnvRule<CertsEnv>('CERTBOT_STAGING', (value, env) =>
    value === true &&
    env.CERTBOT_SERVER !== LETS_ENCRYPT_PRODUCTION &&
    env.CERTBOT_SERVER !== LETS_ENCRYPT_STAGING
      ? 'CERTBOT_STAGING=true means Let’s Encrypt’s staging directory, but CERTBOT_SERVER names another ACME server: set one of them'
      : null,
  )
  CERTBOT_STAGING?: boolean;

  /** An absolute floor under the lifetime-relative threshold (unset: none). */
  @IsOptional()
  @IsInt({ message: 'CERT_WARN_DAYS must be an integer from 1 to 365' })
  @Min(1, { message: 'CERT_WARN_DAYS must be an integer from 1 to 365' })
  @Max(365, { message: 'CERT_WARN_DAYS must be an integer from 1 to 365' })
  CERT_WARN_DAYS?: number;

  @IsString()
  @EnvRule<CertsEnv>('CERT_WARN_FRACTION', (value) =>
    typeof value === 'string' && parseFraction(value) !== null
      ? null
      : 'CERT_WARN_FRACTION must be a fraction of the lifetime from 0.01 to 0.9, like 1/3 or 0.25',
  )
  CERT_WARN_FRACTION: string = '1/3';

  @IsOptional()
  @IsString()
  @EnvRule<CertsEnv>('CERT_CHECK_ADDRESS', (value) =>
    value === undefined || value === 'off' || (typeof value === 'string' && parseCheckAddress(value) !== null)
      ? null
      : 'CERT_CHECK_ADDRESS must be host:port (e.g. 127.0.0.1:443) or "off"',
  )
  CERT_CHECK_ADDRESS?: string;

  @IsOptional()
  @IsString()
  @EnvRule<CertsEnv>('ACME_HOOK_COMMAND', (value) =>
    typeof value !== 'string' || isHookCommand(value)
      ? null
      : 'ACME_HOOK_COMMAND must be a program by its absolute path and its arguments (letters, digits and _./:=@+- only), e.g. /usr/bin/node /srv/live/dist/src/ops/certs/acme-hook.main.js',
  )
  ACME_HOOK_COMMAND?: string;

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
  /** CERTBOT_STAGING: new certificates come from Let's Encrypt's staging directory. */
  readonly staging: boolean;
  /** `expiring` below this fraction of a certificate's lifetime... */
  readonly warnFraction: number;
  /** ...or below this many days, when CERT_WARN_DAYS is set. */
  readonly warnDays: number | null;
  /** Where the served-certificate check connects (null: each domain on 443); `off`: no check. */
  readonly checkAddress: { host: string; port: number } | null | 'off';
  /** The command (words) certbot's manual hooks run: `<it> acme-challenge put|delete`. */
  readonly hookCommand: string[];
  /** What certbot's hooks need to reach live's database, whatever live's own environment holds. */
  readonly hookEnv: Record<string, string>;
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
    this.staging = e.CERTBOT_STAGING === true;
    if (this.staging) this.server = LETS_ENCRYPT_STAGING;
    this.warnFraction = parseFraction(e.CERT_WARN_FRACTION)!;
    this.warnDays = e.CERT_WARN_DAYS ?? null;
    this.checkAddress =
      e.CERT_CHECK_ADDRESS === 'off'
        ? 'off'
        : e.CERT_CHECK_ADDRESS
          ? parseCheckAddress(e.CERT_CHECK_ADDRESS)
          : null;
    this.hookCommand = e.ACME_HOOK_COMMAND ? e.ACME_HOOK_COMMAND.trim().split(/\s+/) : defaultHookCommand();
    if (!this.hookCommand.every((w) => HOOK_WORD.test(w)))
      throw new ConfigError(
        `Invalid configuration: ACME_HOOK_COMMAND is unset and live's own path (${this.hookCommand.join(' ')}) ` +
          'holds characters certbot would hand to a shell: set ACME_HOOK_COMMAND to a path without them',
      );
    this.hookEnv = {
      DATA_DIR: app.dataDir,
      DATABASE_URL: app.database.type === 'postgres' ? app.database.url : `sqlite:${app.database.path}`,
    };
    this.timeoutMs = e.CERTBOT_TIMEOUT_MS;
    const cron = e.CERT_RENEW_CRON ?? defaultRenewCron(app.dataDir);
    this.renewCron = cron === 'off' ? null : cron;
  }
}

/**
 * This live's own hook entry (acme-hook.main): the compiled one next to this file (dist/), else the
 * TypeScript one through ts-node (development). Run by the Node that runs live.
 */
function defaultHookCommand(): string[] {
  const compiled = resolve(__dirname, 'acme-hook.main.js');
  if (existsSync(compiled)) return [process.execPath, compiled];
  return [process.execPath, '-r', 'ts-node/register/transpile-only', resolve(__dirname, 'acme-hook.main.ts')];
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
