import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { TrustedOrigins, trustedOriginEntries, trustedOriginProblem } from '../auth/trusted-origins';
import { EnvRule } from '../config/env-rule';
import { validateEnv } from '../config/validate-env';
import type { UndeclaredRooms } from './room-rules';
import { isClusterUrl, parseClusterUrl } from './redis/redis-topology';

/** One Redis (`redis://`, `rediss://`) or a Redis Cluster's seed nodes (`redis+cluster://h:p,h:p`). */
function redisUrlProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'REDIS_URL must be a string';
  if (isClusterUrl(value)) {
    const parsed = parseClusterUrl(value);
    return typeof parsed === 'string'
      ? `REDIS_URL must be redis+cluster://[user:pass@]host:port[,host:port…] (${parsed})`
      : null;
  }
  return /^rediss?:\/\/.+/.test(value)
    ? null
    : 'REDIS_URL must be redis://[user:pass@]host:port[/db] or redis+cluster://host:port,host:port';
}

export class ChatEnv {
  @IsInt()
  @Min(16, { message: 'CHAT_MAX_MESSAGE_BYTES must be an integer ≥ 16' })
  CHAT_MAX_MESSAGE_BYTES: number = 64 * 1024;

  @IsInt()
  @Min(1024, { message: 'CHAT_MAX_BUFFERED_BYTES must be an integer ≥ 1024' })
  CHAT_MAX_BUFFERED_BYTES: number = 1024 * 1024;

  @IsInt()
  @Min(1, { message: 'CHAT_RATE must be a positive integer (messages per second)' })
  CHAT_RATE: number = 20;

  @IsInt()
  @Min(1, { message: 'CHAT_BURST must be a positive integer' })
  CHAT_BURST: number = 40;

  /** Messages refused in a row (bucket empty) before the socket is closed with 1008. */
  @IsInt()
  @Min(1, { message: 'CHAT_FLOOD_STRIKES must be a positive integer' })
  CHAT_FLOOD_STRIKES: number = 20;

  @IsInt()
  @Min(100, { message: 'CHAT_PING_INTERVAL_MS must be an integer ≥ 100' })
  CHAT_PING_INTERVAL_MS: number = 30_000;

  @IsInt()
  @Min(0)
  @Max(500, { message: 'CHAT_HISTORY_DEFAULT must be 0..500' })
  CHAT_HISTORY_DEFAULT: number = 50;

  @IsInt()
  @Min(0, { message: 'CHAT_HISTORY_MAX_PER_ROOM must be ≥ 0 (0 keeps every message)' })
  CHAT_HISTORY_MAX_PER_ROOM: number = 10_000;

  @IsInt()
  @Min(0, { message: 'CHAT_HISTORY_MAX_AGE_DAYS must be ≥ 0 (0 keeps messages of any age)' })
  CHAT_HISTORY_MAX_AGE_DAYS: number = 0;

  @IsString()
  @Matches(/^(off|(\S+\s+){4,5}\S+)$/, { message: 'CHAT_RETENTION_CRON must be a cron expression or "off"' })
  CHAT_RETENTION_CRON: string = '*/10 * * * *';

  @IsInt()
  @Min(1, { message: 'CHAT_HISTORY_FLUSH_MS must be a positive integer' })
  CHAT_HISTORY_FLUSH_MS: number = 25;

  /**
   * How long a joining socket waits for its history read; past it (or on a failed read) it gets
   * `history_unavailable` and live messages flow, so a hung database never mutes a new socket.
   */
  @IsInt()
  @Min(1, { message: 'CHAT_HISTORY_JOIN_TIMEOUT_MS must be a positive integer' })
  CHAT_HISTORY_JOIN_TIMEOUT_MS: number = 3000;

  /** `closed`: only rooms staff declared (PUT /admin/chat/rooms/:room) can be joined; others are 404. */
  @IsIn(['open', 'closed'], { message: 'CHAT_UNDECLARED_ROOMS must be open or closed' })
  CHAT_UNDECLARED_ROOMS: string = 'open';

  @IsOptional()
  @EnvRule('REDIS_URL', redisUrlProblem)
  REDIS_URL?: string;

  @IsString()
  @Matches(/^[A-Za-z0-9:_.-]{1,64}$/, { message: 'REDIS_PREFIX must be 1-64 of A-Za-z0-9:_.-' })
  REDIS_PREFIX: string = 'live';

  /** A crashed instance's presence entries vanish within this time (each instance refreshes every third of it). */
  @IsInt()
  @Min(1000, { message: 'REDIS_PRESENCE_TTL_MS must be an integer ≥ 1000' })
  REDIS_PRESENCE_TTL_MS: number = 30_000;

  /**
   * How often the sessions behind open sockets are read again (one query for all of them), to find
   * those ended where live is not told: on the Django side, by expiry. Below a second, so that such
   * a socket is closed within one.
   */
  @IsInt()
  @Min(100, { message: 'CHAT_SESSION_RECHECK_MS must be an integer ≥ 100' })
  CHAT_SESSION_RECHECK_MS: number = 800;

  /**
   * While the re-check cannot reach the database, sockets stay open (fail open) this long, then the
   * logged-in ones are closed with 4002 until their sessions can be read again.
   */
  @IsInt()
  @Min(0, { message: 'CHAT_SESSION_FAIL_OPEN_MS must be an integer ≥ 0' })
  CHAT_SESSION_FAIL_OPEN_MS: number = 60_000;

  /**
   * Origins (scheme://host[:port], or https://*.example.org) of other sites whose pages may open
   * chat sockets: with a ticket or as anonymous, never with this site's session cookie.
   */
  @IsOptional()
  @EnvRule('CHAT_ALLOWED_ORIGINS', allowedOriginsProblem)
  CHAT_ALLOWED_ORIGINS?: string;
}

function allowedOriginsProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'CHAT_ALLOWED_ORIGINS must be a comma-separated list of origins';
  for (const entry of trustedOriginEntries(value)) {
    const problem = trustedOriginProblem(entry);
    if (problem) return `CHAT_ALLOWED_ORIGINS: ${problem}`;
  }
  return null;
}

export class ChatConfig {
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly rate: number;
  readonly burst: number;
  readonly floodStrikes: number;
  readonly pingIntervalMs: number;
  readonly historyDefault: number;
  readonly historyMax = 500;
  readonly historyMaxPerRoom: number;
  readonly historyMaxAgeDays: number;
  readonly retentionCron: string | null;
  readonly historyFlushMs: number;
  readonly historyJoinTimeoutMs: number;
  readonly undeclaredRooms: UndeclaredRooms;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly redisPresenceTtlMs: number;
  readonly sessionRecheckMs: number;
  readonly sessionFailOpenMs: number;
  /** CHAT_ALLOWED_ORIGINS: other sites' pages that may open sockets (without this site's cookie). */
  readonly allowedOrigins: TrustedOrigins;

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>) {
    const e = validateEnv(ChatEnv, env);
    this.maxMessageBytes = e.CHAT_MAX_MESSAGE_BYTES;
    this.maxBufferedBytes = e.CHAT_MAX_BUFFERED_BYTES;
    this.rate = e.CHAT_RATE;
    this.burst = e.CHAT_BURST;
    this.floodStrikes = e.CHAT_FLOOD_STRIKES;
    this.pingIntervalMs = e.CHAT_PING_INTERVAL_MS;
    this.historyDefault = e.CHAT_HISTORY_DEFAULT;
    this.historyMaxPerRoom = e.CHAT_HISTORY_MAX_PER_ROOM;
    this.historyMaxAgeDays = e.CHAT_HISTORY_MAX_AGE_DAYS;
    this.retentionCron = e.CHAT_RETENTION_CRON === 'off' ? null : e.CHAT_RETENTION_CRON;
    this.historyFlushMs = e.CHAT_HISTORY_FLUSH_MS;
    this.historyJoinTimeoutMs = e.CHAT_HISTORY_JOIN_TIMEOUT_MS;
    this.undeclaredRooms = e.CHAT_UNDECLARED_ROOMS as UndeclaredRooms;
    this.redisUrl = e.REDIS_URL;
    this.redisPrefix = e.REDIS_PREFIX;
    this.redisPresenceTtlMs = e.REDIS_PRESENCE_TTL_MS;
    this.sessionRecheckMs = e.CHAT_SESSION_RECHECK_MS;
    this.sessionFailOpenMs = e.CHAT_SESSION_FAIL_OPEN_MS;
    this.allowedOrigins = TrustedOrigins.parse(e.CHAT_ALLOWED_ORIGINS);
  }
}
