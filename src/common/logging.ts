import { LoggerService } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { DestinationStream, Level } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { AppConfig, LogLevelName } from '../config/app.config';

/** LOG_LEVEL (Nest's names) to pino's: `log` is info, `verbose` is trace. */
const PINO_LEVELS: Record<LogLevelName, Level> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * Never written, wherever they appear in a logged object (a header dump, a DTO): the session and
 * CSRF cookies (the whole Cookie and Set-Cookie headers, whatever SESSION_COOKIE_NAME and
 * CSRF_COOKIE_NAME call them), credentials and passwords.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'cookie',
  '*.cookie',
  '*.*.cookie',
  '["set-cookie"]',
  '*["set-cookie"]',
  '*.*["set-cookie"]',
  'authorization',
  '*.authorization',
  '*.*.authorization',
  '["x-csrftoken"]',
  '*["x-csrftoken"]',
  '*.*["x-csrftoken"]',
];

/**
 * Nest's start-up chatter (one line per route, module and gateway: about 60) is for debugging the
 * wiring, not for the operator: it goes out at debug.
 */
const WIRING_CONTEXTS = new Set([
  'RoutesResolver',
  'RouterExplorer',
  'InstanceLoader',
  'WebSocketsController',
]);

const STACK_TRACE = /\n\s*at /;

/**
 * The Nest logger on a pino root. `logger.warn({ event: 'redis_down', … })` becomes one line with
 * the event's fields at the top level (nestjs-pino's Logger does that); this class adds what live
 * wants on top: the wiring lines at debug, and a stack given beside an event object kept as its
 * `stack` field.
 */
class LivePinoLogger extends PinoLogger {
  constructor(private readonly root: pino.Logger) {
    super({ pinoHttp: { logger: root } });
  }

  /** nestjs-pino keeps the first root of the process; a second app (tests) has its own. */
  override get logger(): pino.Logger {
    return this.root;
  }

  protected override call(method: Level, ...args: unknown[]): void {
    const [fields, ...rest] = args;
    let level = method;
    if (level === 'info' && isRecord(fields) && WIRING_CONTEXTS.has(fields.context as string))
      level = 'debug';
    // Nest's Logger adds an undefined stack to error(message) calls; pino would take it as the message.
    while (rest.length > 0 && rest[rest.length - 1] === undefined) rest.pop();
    if (isRecord(fields) && 'event' in fields && typeof rest[0] === 'string' && STACK_TRACE.test(rest[0])) {
      this.logger[level]({ ...fields, stack: rest[0] });
      return;
    }
    (this.logger[level] as (...a: unknown[]) => void)(fields, ...rest);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The Nest `LoggerService` writing to `root` (server: stdout; manage: stderr). */
export function nestLogger(root: pino.Logger): LoggerService {
  return new NestPinoLogger(new LivePinoLogger(root), {});
}

/** Where log lines go: a file descriptor written synchronously, so nothing is lost at exit. */
function destination(config: LogSettings, fd: number): DestinationStream {
  const out = pino.destination({ dest: fd, sync: true });
  if (config.logFormat === 'json') return out;
  // pino-pretty as a function, not its worker-thread transport: one readable line per event,
  // written before the call returns.
  const prettify = prettyFactory({
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,context,event',
    // `error` holds a message string in live's events: keep it on the line.
    errorLikeObjectKeys: ['err'],
    messageFormat: (log, messageKey) =>
      [log.context ? `[${String(log.context)}]` : '', String(log.event ?? log[messageKey] ?? '')]
        .filter(Boolean)
        .join(' '),
  });
  return { write: (line: string) => out.write(prettify(line)) };
}

type LogSettings = Pick<AppConfig, 'logLevel' | 'logFormat'>;

/** A pino root logger for LOG_LEVEL and LOG_FORMAT, writing to file descriptor `fd`. */
export function createRootLogger(config: LogSettings, fd = 1): pino.Logger {
  const json = config.logFormat === 'json';
  return pino(
    {
      level: PINO_LEVELS[config.logLevel],
      base: { pid: process.pid },
      timestamp: json ? pino.stdTimeFunctions.isoTime : pino.stdTimeFunctions.epochTime,
      // `"level":"warn"` rather than 40 in JSON; pino-pretty wants the numbers.
      formatters: json ? { level: (label) => ({ level: label }) } : {},
      redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
    },
    destination(config, fd),
  );
}

const serverRoots = new WeakMap<AppConfig, pino.Logger>();

/**
 * The server's root logger for one configuration, on stdout: the Nest logger and the access log
 * share it.
 */
export function serverLogger(config: AppConfig): pino.Logger {
  let root = serverRoots.get(config);
  if (!root) {
    root = createRootLogger(config, 1);
    serverRoots.set(config, root);
  }
  return root;
}
