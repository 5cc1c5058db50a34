import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import { defaultHashThreads } from '../auth/pbkdf2-pool';
import { TrustedOrigins } from '../auth/trusted-origins';
import {
  csrfCookieNameProblem,
  DEFAULT_CSRF_COOKIE_NAME,
  DEFAULT_SESSION_COOKIE_NAME,
  SameSite,
  sameSiteProblem,
  sessionCookieDomainProblem,
  sessionCookieNameProblem,
  trustedOriginsProblem,
} from './cookie-settings';
import { EnvRule } from './env-rule';
import { parseTrustProxy, TrustProxy, trustProxyProblem } from './trust-proxy';
import { ConfigError, printableValue, validateEnv } from './validate-env';

/**
 * SQLite's `synchronous` in WAL mode: `normal` syncs the WAL at checkpoints only (a power cut may lose
 * the last commits, never corrupts; Rails' default), `full` syncs every commit.
 */
export type SqliteSynchronous = 'normal' | 'full';
export type DatabaseTarget =
  { type: 'sqlite'; path: string; synchronous?: SqliteSynchronous } | { type: 'postgres'; url: string };

const LOG_LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** The app's own environment variables, their defaults and what each accepts. */
/** A host name or an IP address (IPv6 bare or in brackets), as `listen` takes it. */
const HOST_PATTERN = /^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|[0-9A-Fa-f:.]+|\[[0-9A-Fa-f:.]+\])$/;
/** Django's ALLOWED_HOSTS entries: `*`, a name, `.domain` (and its subdomains), an IP, `[IPv6]`. */
const ALLOWED_HOST = String.raw`(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|[0-9.]+|\[[0-9A-Fa-f:.]+\])`;
const ALLOWED_HOSTS_PATTERN = new RegExp(String.raw`^\s*${ALLOWED_HOST}(\s*,\s*${ALLOWED_HOST})*\s*,?\s*$`);

export class AppEnv {
  @Matches(HOST_PATTERN, {
    message: 'HOST must be a host name or an IP address (0.0.0.0 for all IPv4, :: for all)',
  })
  HOST: string = '127.0.0.1';

  @IsInt({ message: 'PORT must be an integer between 0 and 65535' })
  @Min(0, { message: 'PORT must be an integer between 0 and 65535' })
  @Max(65535, { message: 'PORT must be an integer between 0 and 65535' })
  PORT: number = 8000;

  @IsString()
  DATA_DIR: string = './data';

  @IsOptional()
  @Matches(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, {
    message:
      'DATABASE_URL must be sqlite:PATH, sqlite:///ABSOLUTE/PATH or postgres://user[:pass]@host:port/db',
  })
  DATABASE_URL?: string;

  /** Opening one PostgreSQL connection (TCP, TLS, start-up and authentication), in milliseconds. */
  @IsInt({ message: 'DATABASE_CONNECT_TIMEOUT_MS must be an integer between 100 and 600000' })
  @Min(100, { message: 'DATABASE_CONNECT_TIMEOUT_MS must be an integer between 100 and 600000' })
  @Max(600_000, { message: 'DATABASE_CONNECT_TIMEOUT_MS must be an integer between 100 and 600000' })
  DATABASE_CONNECT_TIMEOUT_MS: number = 3000;

  /** One query: the server cancels it (statement_timeout) and the client stops waiting (a silent server). */
  @IsInt({ message: 'DATABASE_QUERY_TIMEOUT_MS must be an integer between 100 and 600000' })
  @Min(100, { message: 'DATABASE_QUERY_TIMEOUT_MS must be an integer between 100 and 600000' })
  @Max(600_000, { message: 'DATABASE_QUERY_TIMEOUT_MS must be an integer between 100 and 600000' })
  DATABASE_QUERY_TIMEOUT_MS: number = 5000;

  /** Waiting for a pooled PostgreSQL connection when all are busy (or a new one is opening). */
  @IsInt({ message: 'DATABASE_POOL_ACQUIRE_TIMEOUT_MS must be an integer between 100 and 600000' })
  @Min(100, { message: 'DATABASE_POOL_ACQUIRE_TIMEOUT_MS must be an integer between 100 and 600000' })
  @Max(600_000, { message: 'DATABASE_POOL_ACQUIRE_TIMEOUT_MS must be an integer between 100 and 600000' })
  DATABASE_POOL_ACQUIRE_TIMEOUT_MS: number = 3000;

  @IsIn(['normal', 'full'], { message: 'SQLITE_SYNCHRONOUS must be normal or full' })
  SQLITE_SYNCHRONOUS: string = 'normal';

  @IsOptional()
  @MinLength(32, { message: 'SECRET_KEY must be at least 32 characters' })
  SECRET_KEY?: string;

  /** Django's setting: earlier keys, comma-separated, still accepted for reading sessions. */
  @IsOptional()
  @Matches(/^\s*[^,\s]{32,}(\s*,\s*[^,\s]{32,})*\s*$/, {
    message: 'SECRET_KEY_FALLBACKS must be a comma-separated list of keys of at least 32 characters each',
  })
  SECRET_KEY_FALLBACKS?: string;

  @Matches(ALLOWED_HOSTS_PATTERN, {
    message:
      'ALLOWED_HOSTS must be a comma-separated list of host names, .domains, IP addresses, [IPv6] or *',
  })
  ALLOWED_HOSTS: string = 'localhost,127.0.0.1,[::1]';

  @IsIn(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: string = 'log';

  @IsIn(['text', 'json'], { message: 'LOG_FORMAT must be text or json' })
  LOG_FORMAT: string = 'text';

  /** false/true, how many proxies stand in front (true = 1), or the proxies' addresses (see trust-proxy.ts). */
  @EnvRule('TRUST_PROXY', trustProxyProblem)
  TRUST_PROXY: string = 'false';

  @IsInt()
  @Min(1000, { message: 'PASSWORD_ITERATIONS must be at least 1000' })
  PASSWORD_ITERATIONS: number = 1_000_000;

  @IsOptional()
  @IsInt({ message: 'PASSWORD_HASH_THREADS must be an integer between 1 and 64' })
  @Min(1, { message: 'PASSWORD_HASH_THREADS must be an integer between 1 and 64' })
  @Max(64, { message: 'PASSWORD_HASH_THREADS must be an integer between 1 and 64' })
  PASSWORD_HASH_THREADS?: number;

  @IsInt({ message: 'PASSWORD_MIN_LENGTH must be an integer between 1 and 4096' })
  @Min(1, { message: 'PASSWORD_MIN_LENGTH must be an integer between 1 and 4096' })
  @Max(4096, { message: 'PASSWORD_MIN_LENGTH must be an integer between 1 and 4096' })
  PASSWORD_MIN_LENGTH: number = 8;

  @IsInt()
  @Min(60, { message: 'SESSION_COOKIE_AGE must be at least 60 (seconds)' })
  SESSION_COOKIE_AGE: number = 14 * 24 * 3600;

  /** Staff two-factor: `optional` (staff choose to enrol) or `required` (staff must, before /admin). */
  @IsIn(['optional', 'required'], { message: 'STAFF_2FA must be optional or required' })
  STAFF_2FA: string = 'optional';

  // Django's cookie and CSRF settings, with its names and defaults (see cookie-settings.ts).
  @EnvRule('SESSION_COOKIE_NAME', sessionCookieNameProblem)
  SESSION_COOKIE_NAME: string = DEFAULT_SESSION_COOKIE_NAME;

  @IsOptional()
  @EnvRule('SESSION_COOKIE_DOMAIN', sessionCookieDomainProblem)
  SESSION_COOKIE_DOMAIN?: string;

  /** Unset: Secure when the request came over TLS (live's behaviour); true/false force it. */
  @IsOptional()
  @IsBoolean({ message: 'SESSION_COOKIE_SECURE must be true or false (unset: Secure over TLS)' })
  SESSION_COOKIE_SECURE?: boolean;

  @EnvRule('SESSION_COOKIE_SAMESITE', sameSiteProblem)
  SESSION_COOKIE_SAMESITE: string = 'Lax';

  @EnvRule('CSRF_COOKIE_NAME', csrfCookieNameProblem)
  CSRF_COOKIE_NAME: string = DEFAULT_CSRF_COOKIE_NAME;

  @IsOptional()
  @EnvRule('CSRF_TRUSTED_ORIGINS', trustedOriginsProblem)
  CSRF_TRUSTED_ORIGINS?: string;

  /** Failed logins per (username, address) within the window before 429 (django-axes' combination). */
  @IsInt({ message: 'LOGIN_MAX_FAILURES must be an integer between 1 and 1000000' })
  @Min(1, { message: 'LOGIN_MAX_FAILURES must be an integer between 1 and 1000000' })
  @Max(1_000_000, { message: 'LOGIN_MAX_FAILURES must be an integer between 1 and 1000000' })
  LOGIN_MAX_FAILURES: number = 5;

  /** Failed logins per address, whatever the usernames: looser, so one person's typos lock no office. */
  @IsInt({ message: 'LOGIN_MAX_FAILURES_PER_ADDRESS must be an integer between 1 and 1000000' })
  @Min(1, { message: 'LOGIN_MAX_FAILURES_PER_ADDRESS must be an integer between 1 and 1000000' })
  @Max(1_000_000, { message: 'LOGIN_MAX_FAILURES_PER_ADDRESS must be an integer between 1 and 1000000' })
  LOGIN_MAX_FAILURES_PER_ADDRESS: number = 50;

  @IsInt({ message: 'LOGIN_FAILURE_WINDOW must be an integer between 1 and 2592000 (seconds)' })
  @Min(1, { message: 'LOGIN_FAILURE_WINDOW must be an integer between 1 and 2592000 (seconds)' })
  @Max(2_592_000, { message: 'LOGIN_FAILURE_WINDOW must be an integer between 1 and 2592000 (seconds)' })
  LOGIN_FAILURE_WINDOW: number = 15 * 60;

  /** Requests per minute one API token may make (each instance counts its own). */
  @IsInt({ message: 'API_TOKEN_RATE must be an integer between 1 and 1000000 (requests per minute)' })
  @Min(1, { message: 'API_TOKEN_RATE must be an integer between 1 and 1000000 (requests per minute)' })
  @Max(1_000_000, {
    message: 'API_TOKEN_RATE must be an integer between 1 and 1000000 (requests per minute)',
  })
  API_TOKEN_RATE: number = 600;

  /** Requests per minute with an unknown, revoked or expired token from one address before 429. */
  @IsInt({ message: 'API_TOKEN_FAILURES_PER_ADDRESS must be an integer between 1 and 1000000' })
  @Min(1, { message: 'API_TOKEN_FAILURES_PER_ADDRESS must be an integer between 1 and 1000000' })
  @Max(1_000_000, { message: 'API_TOKEN_FAILURES_PER_ADDRESS must be an integer between 1 and 1000000' })
  API_TOKEN_FAILURES_PER_ADDRESS: number = 30;
}

/** How long live waits for the database before answering 503 (milliseconds). */
export interface DatabaseTimeouts {
  connectMs: number;
  /** 0: no limit (migrations, which may legitimately run long). */
  queryMs: number;
  poolAcquireMs: number;
}

/** Parses the DATABASE_URL forms the README documents. */
export function parseDatabaseUrl(url: string | undefined, dataDir: string): DatabaseTarget {
  if (!url) return { type: 'sqlite', path: resolve(dataDir, 'db.sqlite3') };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { type: 'postgres', url };
  // dj-database-url: sqlite:///relative?  No: sqlite:////abs and sqlite:///abs are both absolute there.
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '' || path === '/')
    throw new ConfigError('Invalid configuration: DATABASE_URL names no SQLite file');
  return { type: 'sqlite', path: path === ':memory:' ? path : isAbsolute(path) ? path : resolve(path) };
}

/**
 * Reads the secret from the data folder, creating it (mode 600) on first run. A folder that cannot
 * be created or read is a configuration problem naming DATA_DIR, not a stack trace.
 */
function loadOrCreateSecret(dataDir: string): string {
  const file = resolve(dataDir, 'secret_key');
  try {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return secret;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(
      `Invalid configuration: DATA_DIR=${printableValue('DATA_DIR', dataDir)}: cannot keep the secret key ` +
        `file there (${e.code ?? e.message}); make the folder writable or set SECRET_KEY`,
    );
  }
}

/** Typed, validated configuration of the app core; built once at start-up. */
export class AppConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly database: DatabaseTarget;
  readonly databaseTimeouts: DatabaseTimeouts;
  readonly allowedHosts: string[];
  readonly logLevel: LogLevelName;
  readonly logFormat: 'text' | 'json';
  /**
   * How many reverse proxies stand in front of live (0: none), or their addresses. The client
   * address is the one the outermost trusted proxy saw: counted from the right of X-Forwarded-For,
   * never the left-most entry, which the client writes itself.
   */
  readonly trustProxy: TrustProxy;
  readonly passwordIterations: number;
  /** Threads hashing passwords at once (default: one core fewer than the machine has, at least 1). */
  readonly passwordHashThreads: number;
  /** Django's MinimumLengthValidator: new passwords have at least this many characters. */
  readonly passwordMinLength: number;
  readonly sessionCookieAge: number;
  /** STAFF_2FA: with `required`, staff without a confirmed authenticator can only enrol. */
  readonly staff2fa: 'optional' | 'required';
  readonly sessionCookieName: string;
  /** The Domain attribute (`.example.org` shares the login with sibling hosts); undefined: host-only. */
  readonly sessionCookieDomain: string | undefined;
  /** true/false as SESSION_COOKIE_SECURE forces it; null: Secure when the request came over TLS. */
  readonly sessionCookieSecure: boolean | null;
  readonly sessionCookieSameSite: SameSite;
  readonly csrfCookieName: string;
  /** Other sites' origins whose pages may POST over HTTPS and open chat sockets. */
  readonly csrfTrustedOrigins: TrustedOrigins;
  readonly loginMaxFailures: number;
  readonly loginMaxFailuresPerAddress: number;
  readonly loginFailureWindowSeconds: number;
  /** API_TOKEN_RATE: requests per minute per token. */
  readonly apiTokenRate: number;
  /** API_TOKEN_FAILURES_PER_ADDRESS: failed token requests per minute per client address. */
  readonly apiTokenFailuresPerAddress: number;
  /** Never logged; use for signing only. */
  readonly secretKey: string;
  /** Earlier keys (SECRET_KEY_FALLBACKS): signatures made with them still verify; nothing is signed with them. */
  readonly secretKeyFallbacks: readonly string[];

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>) {
    const parsed = validateEnv(AppEnv, env);
    this.host = parsed.HOST;
    this.port = parsed.PORT;
    this.dataDir = resolve(parsed.DATA_DIR);
    const database = parseDatabaseUrl(parsed.DATABASE_URL, this.dataDir);
    this.database =
      database.type === 'sqlite'
        ? { ...database, synchronous: parsed.SQLITE_SYNCHRONOUS as SqliteSynchronous }
        : database;
    this.databaseTimeouts = {
      connectMs: parsed.DATABASE_CONNECT_TIMEOUT_MS,
      queryMs: parsed.DATABASE_QUERY_TIMEOUT_MS,
      poolAcquireMs: parsed.DATABASE_POOL_ACQUIRE_TIMEOUT_MS,
    };
    this.allowedHosts = parsed.ALLOWED_HOSTS.split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    this.logLevel = parsed.LOG_LEVEL as LogLevelName;
    this.logFormat = parsed.LOG_FORMAT as 'text' | 'json';
    this.trustProxy = parseTrustProxy(parsed.TRUST_PROXY);
    this.passwordIterations = parsed.PASSWORD_ITERATIONS;
    this.passwordHashThreads = parsed.PASSWORD_HASH_THREADS ?? defaultHashThreads();
    this.passwordMinLength = parsed.PASSWORD_MIN_LENGTH;
    this.sessionCookieAge = parsed.SESSION_COOKIE_AGE;
    this.staff2fa = parsed.STAFF_2FA as 'optional' | 'required';
    this.sessionCookieName = parsed.SESSION_COOKIE_NAME;
    this.sessionCookieDomain = parsed.SESSION_COOKIE_DOMAIN?.toLowerCase();
    this.sessionCookieSecure = parsed.SESSION_COOKIE_SECURE ?? null;
    this.sessionCookieSameSite = parsed.SESSION_COOKIE_SAMESITE.toLowerCase() as SameSite;
    this.csrfCookieName = parsed.CSRF_COOKIE_NAME;
    this.csrfTrustedOrigins = TrustedOrigins.parse(parsed.CSRF_TRUSTED_ORIGINS);
    this.loginMaxFailures = parsed.LOGIN_MAX_FAILURES;
    this.loginMaxFailuresPerAddress = parsed.LOGIN_MAX_FAILURES_PER_ADDRESS;
    this.loginFailureWindowSeconds = parsed.LOGIN_FAILURE_WINDOW;
    this.apiTokenRate = parsed.API_TOKEN_RATE;
    this.apiTokenFailuresPerAddress = parsed.API_TOKEN_FAILURES_PER_ADDRESS;
    this.secretKey = parsed.SECRET_KEY ?? loadOrCreateSecret(this.dataDir);
    this.secretKeyFallbacks = (parsed.SECRET_KEY_FALLBACKS ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  }

  /** Django's ALLOWED_HOSTS matching: exact, `.example.org` for a domain and its subdomains, or `*`. */
  isAllowedHost(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    const host = stripPort(hostHeader.toLowerCase());
    return this.allowedHosts.some(
      (pattern) =>
        pattern === '*' ||
        pattern === host ||
        (pattern.startsWith('.') && (host.endsWith(pattern) || host === pattern.slice(1))),
    );
  }

  /** Log levels Nest should print for LOG_LEVEL (that level and the more severe ones). */
  get nestLogLevels(): LogLevelName[] {
    return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(this.logLevel) + 1) as LogLevelName[];
  }
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
