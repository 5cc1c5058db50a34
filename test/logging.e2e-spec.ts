import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startLive, stop } from './support/live-process';
import { manage } from './support/manage';
import { cookieValue } from './support/users';
import { openWs, refusedUpgrade } from './support/ws';

const PASSWORD = 'pass-secret-4b1d';
const SECRETS = {
  query: 's3cret',
  sessionCookie: 'cookie-secret-77aa',
  csrfCookie: 'csrf-cookie-secret-88bb',
  authorization: 'auth-secret-99cc',
  csrfHeader: 'csrf-header-secret-11dd',
  password: PASSWORD,
};
const WIRING = ['RoutesResolver', 'RouterExplorer', 'InstanceLoader', 'WebSocketsController'];

describe('logs', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'live-logging-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('LOG_FORMAT=json: one object per line, access lines for HTTP and WebSocket, no secrets, shutdown', async () => {
    const env = { PASSWORD_ITERATIONS: '1000', LOG_FORMAT: 'json' };
    const created = await manage(['createsuperuser', '--username', 'ann', '--email', 'ann@example.org'], {
      ...env,
      DATA_DIR: dataDir,
      LIVE_PASSWORD: PASSWORD,
    });
    expect(created.code).toBe(0);
    const live = await startLive(dataDir, env);

    // A request carrying every kind of secret, in headers and in the query.
    const me = await request(live.baseUrl)
      .get(`/auth/me?token=${SECRETS.query}`)
      .set('Cookie', `sessionid=${SECRETS.sessionCookie}; csrftoken=${SECRETS.csrfCookie}`)
      .set('Authorization', `Bearer ${SECRETS.authorization}`)
      .set('X-CSRFToken', SECRETS.csrfHeader);
    expect(me.status).toBeGreaterThanOrEqual(400);
    // A real login: the password in the body, a fresh session and CSRF token in Set-Cookie.
    const csrf = await request(live.baseUrl).get('/auth/csrf').expect(200);
    const csrfToken = cookieValue(csrf.headers['set-cookie'], 'csrftoken')!;
    const login = await request(live.baseUrl)
      .post('/auth/login')
      .set('Cookie', `csrftoken=${csrfToken}`)
      .set('X-CSRFToken', csrfToken)
      .send({ username: 'ann', password: PASSWORD })
      .expect(200);
    const session = cookieValue(login.headers['set-cookie'], 'sessionid')!;
    const rotatedCsrf = cookieValue(login.headers['set-cookie'], 'csrftoken')!;
    expect(session).toBeTruthy();

    // WebSocket handshakes: one accepted (live.v1, logged in), two refused.
    const ws = await openWs(`${live.wsUrl}/chat/lobby/?since=0&token=${SECRETS.query}`, {
      protocols: ['live.v1'],
      headers: { Cookie: `sessionid=${session}` },
    });
    await ws.next();
    await ws.close();
    expect((await refusedUpgrade(`${live.wsUrl}/nowhere/?token=${SECRETS.query}`)).statusCode).toBe(404);
    expect(
      (await refusedUpgrade(`${live.wsUrl}/chat/lobby/`, { Origin: 'http://evil.example' })).statusCode,
    ).toBe(403);

    expect(await stop(live)).toBe('SIGTERM');
    expect(live.stderr).toEqual([]);

    // Every line is one JSON object.
    const logs = live.stdout.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    for (const l of logs) {
      expect(typeof l.level).toBe('string');
      expect(typeof l.time).toBe('string');
      // Events are fields, never a JSON string inside the message.
      if (typeof l.msg === 'string') expect(l.msg).not.toMatch(/^\{/);
    }

    const http = logs.filter((l) => l.event === 'http_request');
    expect(http.find((l) => l.path === '/auth/me')).toEqual(
      expect.objectContaining({
        level: 'info',
        method: 'GET',
        status: me.status,
        durationMs: expect.any(Number),
        remoteAddress: '127.0.0.1',
      }),
    );
    expect(http.find((l) => l.path === '/auth/login')).toMatchObject({ method: 'POST', status: 200 });
    expect(http.every((l) => !String(l.path).includes('?'))).toBe(true);

    const handshakes = logs.filter((l) => l.event === 'ws_handshake');
    expect(handshakes).toEqual([
      expect.objectContaining({
        context: 'ChatUpgrade',
        path: '/chat/lobby/',
        status: 101,
        subprotocol: 'live.v1',
        durationMs: expect.any(Number),
        remoteAddress: '127.0.0.1',
      }),
      expect.objectContaining({ path: '/nowhere/', status: 404, subprotocol: null }),
      expect.objectContaining({ path: '/chat/lobby/', status: 403, remoteAddress: '127.0.0.1' }),
    ]);

    const everything = live.stdout.join('\n');
    for (const secret of [...Object.values(SECRETS), csrfToken, session, rotatedCsrf])
      expect(everything).not.toContain(secret);

    // Nest's route and module wiring is debug, not info.
    expect(logs.filter((l) => WIRING.includes(l.context as string))).toEqual([]);
    expect(everything).not.toContain('Mapped {');

    // Events as top-level fields, the fast path reported at boot, the shutdown bracketed.
    expect(logs.find((l) => l.event === 'listening')).toMatchObject({
      level: 'info',
      url: `${live.baseUrl}/`,
    });
    expect(logs.find((l) => l.event === 'ws_fast_path')).toMatchObject({ active: true, missing: [] });
    const started = logs.findIndex((l) => l.event === 'shutdown_started');
    expect(logs[started]).toMatchObject({ context: 'Shutdown', signal: 'SIGTERM' });
    expect(logs[logs.length - 1]).toMatchObject({
      event: 'shutdown_complete',
      signal: 'SIGTERM',
      durationMs: expect.any(Number),
    });
    expect(started).toBeLessThan(logs.length - 1);
  }, 90_000);

  it('LOG_FORMAT=text: a readable line per event, not JSON', async () => {
    const live = await startLive(dataDir, { LOG_FORMAT: 'text', PASSWORD_ITERATIONS: '1000' });
    await request(live.baseUrl).get('/health?token=s3cret');
    expect(await stop(live)).toBe('SIGTERM');
    expect(live.stdout.length).toBeGreaterThan(3);
    for (const line of live.stdout) {
      expect(() => JSON.parse(line)).toThrow();
      // pino-pretty shows a `name` field (a migration's) in parentheses after the level.
      expect(line).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR)( \(.+\))?: /);
    }
    const text = live.stdout.join('\n');
    expect(text).toMatch(/INFO: http_request \{.*"method":"GET","path":"\/health","status":200/);
    expect(text).toMatch(/INFO: \[ChatUpgrade\] ws_fast_path \{"active":true/);
    expect(text).toMatch(/INFO: \[Shutdown\] shutdown_complete \{"signal":"SIGTERM"/);
    expect(text).not.toContain('s3cret');
  }, 90_000);
});
