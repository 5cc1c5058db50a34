import { pbkdf2Sync } from 'node:crypto';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createTestDatabase, PG_ADMIN_URL } from './support/app';
import { LiveInstance, startInstance } from './support/instances';
import { startTcpProxy, TcpProxy } from './support/tcp-proxy';
import { openWs, refusedUpgrade, WsClient } from './support/ws';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const withCluster = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
if (!withCluster) console.warn('[live tests] chat tickets cluster suite skipped: needs PostgreSQL and Redis');
const describeCluster = withCluster ? describe : describe.skip;

/**
 * Tickets and tokens across two live processes on PostgreSQL (through a proxy this suite can
 * black-hole) and Redis: a ticket issued by A opens a socket on B, once across both; a token
 * revoked on A closes its socket on B; with the database gone, such handshakes answer 503.
 */
describeCluster('chat tickets and tokens across two instances', () => {
  let db: { url: string; drop(): Promise<void> };
  let pgProxy: TcpProxy;
  let a: LiveInstance;
  let b: LiveInstance;
  const prefix = `live-test-tickets-${process.pid}-${Date.now().toString(36)}`;
  const open: WsClient[] = [];
  let cookie: string;
  let csrf: string;

  async function addUser(username: string): Promise<void> {
    const salt = `salt${username}`;
    const hash = pbkdf2Sync('cluster-pass', salt, 1000, 32, 'sha256').toString('base64');
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      await pg.query(
        `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
           is_active, date_joined) VALUES ($1, false, $2, 'Far', $2, '', false, true, now())`,
        [`pbkdf2_sha256$1000$${salt}$${hash}`, username],
      );
    } finally {
      await pg.end();
    }
  }

  const post = (instance: LiveInstance, path: string, body: object, headers: Record<string, string>) =>
    fetch(`${instance.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const asUser = () => ({ cookie, 'x-csrftoken': csrf });
  const ticketOn = async (instance: LiveInstance, room: string): Promise<string> => {
    const res = await post(instance, '/chat/tickets', { room }, asUser());
    expect(res.status).toBe(201);
    return ((await res.json()) as { ticket: string }).ticket;
  };
  const connect = async (url: string, headers: Record<string, string> = {}) => {
    const c = await openWs(url, { headers });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const admin = new URL(PG_ADMIN_URL);
    pgProxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    const url = new URL(db.url);
    url.host = pgProxy.address;
    const env = {
      DATABASE_URL: url.toString(),
      REDIS_URL,
      REDIS_PREFIX: prefix,
      CHAT_RETENTION_CRON: 'off',
      // Revocations must travel over Redis: the periodic re-check would come too late (60 s).
      CHAT_SESSION_RECHECK_MS: '60000',
      DATABASE_CONNECT_TIMEOUT_MS: '2000',
      DATABASE_QUERY_TIMEOUT_MS: '2000',
      DATABASE_POOL_ACQUIRE_TIMEOUT_MS: '2000',
    };
    [a, b] = await Promise.all(['a', 'b'].map((name) => startInstance(name, env)));
    await addUser('tia');
    const token = ((await (await fetch(`${a.baseUrl}/auth/csrf`)).json()) as { csrfToken: string }).csrfToken;
    const res = await post(
      a,
      '/auth/login',
      { username: 'tia', password: 'cluster-pass' },
      { cookie: `csrftoken=${token}`, 'x-csrftoken': token },
    );
    expect(res.status).toBe(200);
    const set = res.headers.getSetCookie().join(';');
    csrf = /csrftoken=([A-Za-z0-9_-]+)/.exec(set)![1];
    cookie = `sessionid=${/sessionid=([a-z0-9]+)/.exec(set)![1]}; csrftoken=${csrf}`;
  }, 90_000);

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close().catch(() => undefined)));
    await pgProxy?.heal().catch(() => undefined);
    await Promise.all([a, b].filter(Boolean).map((i) => i.stop()));
    await pgProxy?.close();
    await db?.drop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }, 30_000);

  it('a ticket issued by A opens a socket on B, as its user; it is spent on A too', async () => {
    const ticket = await ticketOn(a, 'crossing');
    const onB = await connect(`${b.wsUrl}/chat/crossing/?ticket=${ticket}`);
    expect(await onB.next()).toBe('Bienvenue Far tia !');
    const again = await refusedUpgrade(`${a.wsUrl}/chat/crossing/?ticket=${ticket}`);
    expect(again.statusCode).toBe(401);
    expect(JSON.parse(again.body)).toMatchObject({ message: 'Invalid ticket.' });
  });

  it('one ticket presented on A and B at once: exactly one socket opens', async () => {
    for (let round = 0; round < 5; round++) {
      const ticket = await ticketOn(round % 2 ? a : b, 'crossing');
      const results = await Promise.allSettled(
        [a, b, a, b].map((i) => openWs(`${i.wsUrl}/chat/crossing/?ticket=${ticket}`)),
      );
      const opened = results.filter((r): r is PromiseFulfilledResult<WsClient> => r.status === 'fulfilled');
      open.push(...opened.map((r) => r.value));
      expect(opened).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect((r.reason as { statusCode: number }).statusCode).toBe(401);
    }
  });

  it('a token revoked on A closes its socket on B with 4001 (the Redis relay, not the re-check)', async () => {
    const made = await post(a, '/auth/tokens', { name: 'bot', scopes: ['chat:read'] }, asUser());
    expect(made.status).toBe(201);
    const { key, id } = (await made.json()) as { key: string; id: number };
    const onB = await connect(`${b.wsUrl}/chat/crossing/`, { Authorization: `Token ${key}` });
    expect(await onB.next()).toBe('Bienvenue Far tia !');
    const ticket = (await (
      await post(a, '/chat/tickets', { room: 'crossing' }, { authorization: `Token ${key}` })
    ).json()) as {
      ticket: string;
    };
    const viaTicket = await connect(`${b.wsUrl}/chat/crossing/?ticket=${ticket.ticket}`);
    expect(await viaTicket.next()).toBe('Bienvenue Far tia !');
    const started = Date.now();
    const revoked = await fetch(`${a.baseUrl}/auth/tokens/${id}`, { method: 'DELETE', headers: asUser() });
    expect(revoked.status).toBe(204);
    expect(await onB.closed).toEqual({ code: 4001, reason: 'session ended' });
    expect(await viaTicket.closed).toEqual({ code: 4001, reason: 'session ended' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('with PostgreSQL black-holed, ticket and token handshakes answer 503 (JSON), and work again once healed', async () => {
    const ticket = await ticketOn(a, 'crossing');
    const made = await post(a, '/auth/tokens', { name: 'late', scopes: ['chat:read'] }, asUser());
    const { key } = (await made.json()) as { key: string };
    pgProxy.blackhole();
    try {
      const started = Date.now();
      const [byTicket, byToken] = await Promise.all([
        refusedUpgrade(`${b.wsUrl}/chat/crossing/?ticket=${ticket}`),
        refusedUpgrade(`${a.wsUrl}/chat/crossing/`, { Authorization: `Token ${key}` }),
      ]);
      for (const answer of [byTicket, byToken]) {
        expect(answer.statusCode).toBe(503);
        expect(JSON.parse(answer.body)).toMatchObject({
          statusCode: 503,
          message: expect.stringMatching(/^Database unavailable: /),
        });
      }
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await pgProxy.heal();
    }
    // Neither instance crashed, and the ticket that could not be read is still good.
    const c = await connect(`${b.wsUrl}/chat/crossing/?ticket=${ticket}`);
    expect(await c.next()).toBe('Bienvenue Far tia !');
    expect(a.process.exitCode).toBeNull();
    expect(b.process.exitCode).toBeNull();
  }, 30_000);
});
