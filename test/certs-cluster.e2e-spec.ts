import { createServer, Server, Socket, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { createTestDatabase } from './support/app';
import { freePort, LiveInstance, startInstance } from './support/instances';
import { manage } from './support/manage';
import { acmeToolsAvailable, Pebble, startPebble } from './support/pebble';
import { cookieValue } from './support/users';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const services = process.env.LIVE_TEST_PG === '1' && process.env.LIVE_TEST_REDIS === '1';
if (!services) console.warn('[live tests] certificate cluster suite skipped: needs PostgreSQL and Redis');
const describeCluster = services && acmeToolsAvailable() ? describe : describe.skip;

/** A round-robin TCP balancer: each new connection goes to the next target, and says which it got. */
interface Balancer {
  port: number;
  /** Connections each target received, by its port. */
  served: Map<number, number>;
  close(): Promise<void>;
}

async function startBalancer(port: number, targets: () => number[]): Promise<Balancer> {
  const served = new Map<number, number>();
  const sockets = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const list = targets();
    const target = list[next++ % list.length];
    served.set(target, (served.get(target) ?? 0) + 1);
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    served,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Issue 20's cluster case: two live processes on one PostgreSQL database behind a round-robin
 * balancer on the port Pebble validates http-01 on. The obtain starts on instance A; Pebble's
 * requests land on B as well, which answers from the database (a token in A's own DATA_DIR, as
 * before, was a 404 there and failed the issuance).
 */
describeCluster('certificates in a cluster: any instance answers the challenge', () => {
  let db: { url: string; drop(): Promise<void> };
  let pebble: Pebble;
  let balancer: Balancer;
  let a: LiveInstance;
  let b: LiveInstance;
  const prefix = `live-test-certs-${process.pid}-${Date.now().toString(36)}`;
  const manageDir = mkdtempSync(join(tmpdir(), 'live-certs-manage-'));

  beforeAll(async () => {
    db = await createTestDatabase();
    const balancerPort = await freePort();
    pebble = await startPebble(balancerPort);
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_PREFIX: prefix,
      CERTBOT_SERVER: pebble.directoryUrl,
      // certbot (a child of each instance) trusts the test CA through this.
      REQUESTS_CA_BUNDLE: pebble.caBundle,
      CERT_RENEW_CRON: 'off',
      CERT_CHECK_ADDRESS: 'off',
    };
    [a, b] = await Promise.all([startInstance('certs-a', env), startInstance('certs-b', env)]);
    // B first: the first validation request of the first domain goes to the instance that did not
    // start certbot.
    balancer = await startBalancer(balancerPort, () => [b.port, a.port]);
    const created = await manage(['createsuperuser', '--username', 'ops', '--email', 'ops@example.org'], {
      DATA_DIR: manageDir,
      DATABASE_URL: db.url,
      LIVE_PASSWORD: 'ops-password-1',
    });
    expect(created.code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await balancer?.close();
    await pebble?.dispose();
    await db?.drop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(manageDir, { recursive: true, force: true });
  }, 60_000);

  async function staffSession(baseUrl: string): Promise<{ cookie: string; csrf: string }> {
    const anon = await request(baseUrl).get('/auth/csrf').expect(200);
    const csrf0 = cookieValue(anon.headers['set-cookie'], 'csrftoken') as string;
    const res = await request(baseUrl)
      .post('/auth/login')
      .set('Cookie', `csrftoken=${csrf0}`)
      .set('X-CSRFToken', csrf0)
      .send({ username: 'ops', password: 'ops-password-1' })
      .expect(200);
    const session = cookieValue(res.headers['set-cookie'], 'sessionid') as string;
    const csrf = cookieValue(res.headers['set-cookie'], 'csrftoken') as string;
    return { cookie: `sessionid=${session}; csrftoken=${csrf}`, csrf };
  }

  it('refuses a malformed token with a 400 and answers an unknown one with a 404, on every instance', async () => {
    for (const instance of [a, b]) {
      const bad = await request(instance.baseUrl)
        .get('/.well-known/acme-challenge/..%2F..%2Fsecret_key')
        .expect(400);
      expect(bad.body).toMatchObject({ statusCode: 400, message: 'Invalid ACME token' });
      await request(instance.baseUrl)
        .get(`/.well-known/acme-challenge/${'a'.repeat(257)}`)
        .expect(400);
      await request(instance.baseUrl).get('/.well-known/acme-challenge/tok%00en').expect(400);
      const unknown = await request(instance.baseUrl)
        .get('/.well-known/acme-challenge/unknown-token_1')
        .expect(404);
      expect(unknown.body).toMatchObject({ statusCode: 404, message: 'No such ACME challenge' });
    }
  });

  it('manage acme-challenge refuses what is not a challenge (exit 2) and a stored one is served by both', async () => {
    const env = { DATA_DIR: manageDir, DATABASE_URL: db.url };
    const refused = await manage(
      ['acme-challenge', 'put', '--token', 'tok;rm', '--validation', 'x.y', '--domain', 'a.example.org'],
      env,
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the token is not a base64url ACME token');
    const key = `tok_abc-1.${'t'.repeat(43)}`;
    const mismatch = await manage(
      ['acme-challenge', 'put', '--token', 'other', '--validation', key, '--domain', 'a.example.org'],
      env,
    );
    expect(mismatch.code).toBe(2);
    const put = await manage(['acme-challenge', 'put'], {
      ...env,
      CERTBOT_TOKEN: 'tok_abc-1',
      CERTBOT_VALIDATION: key,
      CERTBOT_DOMAIN: 'a.example.org',
    });
    expect({ code: put.code, stdout: put.stdout }).toEqual({ code: 0, stdout: '' });
    for (const instance of [a, b]) {
      const res = await request(instance.baseUrl).get('/.well-known/acme-challenge/tok_abc-1').expect(200);
      expect(res.text).toBe(key);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
    }
    expect((await manage(['acme-challenge', 'delete', '--token', 'tok_abc-1'], env)).code).toBe(0);
    for (const instance of [a, b])
      await request(instance.baseUrl).get('/.well-known/acme-challenge/tok_abc-1').expect(404);
  }, 60_000);

  it('an obtain started on A is validated by requests that reach B, and succeeds', async () => {
    const staff = await staffSession(a.baseUrl);
    const domains = ['cluster.live-test.example', 'www.cluster.live-test.example'];
    const started = await request(a.baseUrl)
      .post('/admin/certs')
      .set('Cookie', staff.cookie)
      .set('X-CSRFToken', staff.csrf)
      .send({ domains })
      .expect(202);
    const deadline = Date.now() + 90_000;
    let run: { outcome: string; reason: string | null };
    for (;;) {
      run = (
        await request(a.baseUrl)
          .get(`/admin/certs/runs/${started.body.runId}`)
          .set('Cookie', staff.cookie)
          .expect(200)
      ).body;
      if (run.outcome !== 'running' || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect({ outcome: run.outcome, reason: run.reason }).toEqual({ outcome: 'obtained', reason: null });
    // Pebble's validation requests went through the balancer, and some of them reached B.
    expect(balancer.served.get(b.port) ?? 0).toBeGreaterThanOrEqual(1);
    const answered = (instance: LiveInstance) =>
      instance
        .events()
        .filter(
          (e) =>
            e.event === 'http_request' &&
            String(e.path).startsWith('/.well-known/acme-challenge/') &&
            e.status === 200,
        )
        .map((e) => String(e.path).split('/').pop()!);
    expect(answered(b).length).toBeGreaterThanOrEqual(1);
    // B answered from the database: nothing was ever written under its own data folder.
    const inventory = (await request(a.baseUrl).get('/admin/certs').set('Cookie', staff.cookie).expect(200))
      .body;
    expect(inventory.certificates.map((c: { name: string }) => c.name)).toEqual([domains[0]]);
    expect(inventory.certificates[0].renewal).toMatchObject({ authenticator: 'manual', byLive: true });
    // The cleanup hook removed the challenges: neither instance answers them any more.
    for (const token of [...answered(a), ...answered(b)])
      for (const instance of [a, b])
        await request(instance.baseUrl).get(`/.well-known/acme-challenge/${token}`).expect(404);
  }, 120_000);
});
