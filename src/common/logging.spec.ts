import { LoggerService } from '@nestjs/common';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLevelName } from '../config/app.config';
import { createRootLogger, nestLogger } from './logging';

/** Runs `log` against a logger writing to a file; returns the lines written. */
function linesOf(
  settings: { logLevel: LogLevelName; logFormat: 'text' | 'json' },
  log: (logger: LoggerService) => void,
): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'live-log-'));
  const file = join(dir, 'out.log');
  const fd = openSync(file, 'w');
  try {
    log(nestLogger(createRootLogger(settings, fd)));
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

// As Nest's Logger facade calls the service: the context last, error() with an undefined stack.
const json = (log: (logger: LoggerService) => void, logLevel: LogLevelName = 'log') =>
  linesOf({ logLevel, logFormat: 'json' }, log).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the structured logger', () => {
  it('writes an event object as one JSON line with its fields at the top level', () => {
    const [line, ...rest] = json((l) =>
      l.warn(
        { event: 'redis_down', role: 'publisher', url: 'redis://x:6379', error: 'ECONNREFUSED' },
        'Redis',
      ),
    );
    expect(rest).toEqual([]);
    expect(line).toEqual({
      level: 'warn',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      pid: process.pid,
      context: 'Redis',
      event: 'redis_down',
      role: 'publisher',
      url: 'redis://x:6379',
      error: 'ECONNREFUSED',
    });
  });

  it('keeps a plain message as msg, and a stack given beside an event as its stack field', () => {
    const [plain, failed, noStack] = json((l) => {
      l.log('Nest application successfully started', 'NestApplication');
      l.error({ event: 'unhandled_error', path: '/x' }, 'Error: boom\n    at f (a.js:1:1)', 'Filter');
      l.error({ event: 'ws_server_error', error: 'EADDRINUSE' }, undefined, 'ChatUpgrade');
    });
    expect(plain).toMatchObject({
      level: 'info',
      context: 'NestApplication',
      msg: 'Nest application successfully started',
    });
    expect(failed).toMatchObject({
      level: 'error',
      event: 'unhandled_error',
      stack: 'Error: boom\n    at f (a.js:1:1)',
    });
    expect(failed).not.toHaveProperty('msg');
    expect(noStack).toEqual(expect.objectContaining({ event: 'ws_server_error', error: 'EADDRINUSE' }));
    expect(noStack).not.toHaveProperty('msg');
  });

  it("puts Nest's route and module wiring lines at debug", () => {
    const wiring = (l: LoggerService) => {
      l.log('Mapped {/health, GET} route', 'RouterExplorer');
      l.log('AuthController {/auth}:', 'RoutesResolver');
      l.log('AuthModule dependencies initialized', 'InstanceLoader');
      l.log('ChatGateway subscribed to the "message" message', 'WebSocketsController');
      l.log('Starting Nest application...', 'NestFactory');
    };
    expect(json(wiring).map((l) => l.context)).toEqual(['NestFactory']);
    expect(json(wiring, 'debug').map((l) => l.level)).toEqual(['debug', 'debug', 'debug', 'debug', 'info']);
  });

  it('maps LOG_LEVEL to pino levels (log is info, verbose is trace)', () => {
    const all = (l: LoggerService) => {
      l.error({ event: 'e' }, undefined, 'T');
      l.warn({ event: 'w' }, 'T');
      l.log({ event: 'i' }, 'T');
      l.debug?.({ event: 'd' }, 'T');
      l.verbose?.({ event: 'v' }, 'T');
    };
    expect(json(all, 'error').map((l) => l.event)).toEqual(['e']);
    expect(json(all, 'log').map((l) => l.event)).toEqual(['e', 'w', 'i']);
    expect(json(all, 'verbose').map((l) => l.level)).toEqual(['error', 'warn', 'info', 'debug', 'trace']);
  });

  it('never writes cookies, credentials, CSRF tokens or passwords', () => {
    const lines = linesOf({ logLevel: 'log', logFormat: 'json' }, (l) =>
      l.log(
        {
          event: 'careless',
          password: 'hunter2',
          body: { username: 'ann', password: 'hunter3' },
          headers: { cookie: 'sessionid=abc', authorization: 'Basic eDp5', 'x-csrftoken': 'csrf-value-1' },
          req: { headers: { cookie: 'sessionid=abd', 'x-csrftoken': 'csrf-value-2' } },
          res: { headers: { 'set-cookie': 'sessionid=abe' } },
        },
        'Test',
      ),
    );
    expect(lines).toHaveLength(1);
    for (const secret of ['hunter2', 'hunter3', 'sessionid=', 'eDp5', 'csrf-value'])
      expect(lines[0]).not.toContain(secret);
    expect(JSON.parse(lines[0])).toMatchObject({ body: { username: 'ann', password: '[Redacted]' } });
  });

  it('LOG_FORMAT=text: one readable line per event, fields shown', () => {
    const lines = linesOf({ logLevel: 'log', logFormat: 'text' }, (l) => {
      l.warn({ event: 'redis_down', role: 'publisher', error: 'ECONNREFUSED' }, 'Redis');
      l.log('Nest application successfully started', 'NestApplication');
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN: \[Redis\] redis_down \{"role":"publisher","error":"ECONNREFUSED"\}$/,
    );
    expect(lines[1]).toMatch(/INFO: \[NestApplication\] Nest application successfully started$/);
    expect(() => JSON.parse(lines[0])).toThrow();
  });
});
