import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { VpnCrlJob } from '../src/ops/vpn/vpn-crl.job';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { createUser, login, LoginSession } from './support/users';
import {
  EASYRSA,
  freePort,
  logMatch,
  OpenVpnProcess,
  openssl,
  startOpenvpn,
  stopOpenvpns,
  stopProcess,
  vpnToolsAvailable,
} from './support/vpn';

const describeVpn = vpnToolsAvailable() ? describe : describe.skip;
const DAY = 86_400_000;

describeVpn('VPN: real OpenVPN handshake on loopback from the downloaded profile, CRL upkeep', () => {
  let t: TestApp;
  let staff: LoginSession;
  let dir: string;
  let port: number;
  const profiles: Record<string, string> = {};

  beforeAll(async () => {
    port = await freePort('udp');
    t = await startApp({ VPN_RUNNER: 'local', EASYRSA_BIN: EASYRSA, VPN_CRL_CRON: 'off' });
    dir = join(t.dataDir, 'openvpn');
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    staff = await login(t, 'boss', 'boss-pass');
    await t.app.get(VpnService).init(`udp://127.0.0.1:${port}`, 'test');
    for (const name of ['alice', 'bob']) {
      await request(t.baseUrl)
        .post('/admin/vpn/clients')
        .set('Cookie', staff.cookie)
        .set('X-CSRFToken', staff.csrf)
        .send({ name })
        .expect(201);
      const res = await request(t.baseUrl)
        .get(`/admin/vpn/clients/${name}/profile`)
        .set('Cookie', staff.cookie)
        .expect(200);
      // unchanged except the remote line (here it already names 127.0.0.1 and the test port)
      profiles[name] = join(t.dataDir, `${name}.ovpn`);
      writeFileSync(profiles[name], res.text.replace(/^remote .*$/m, `remote 127.0.0.1 ${port} udp`));
    }
  }, 180_000);

  afterAll(async () => {
    await stopOpenvpns();
    await t?.close();
  });

  /** A p2p tls-server on `dev null` built from the PKI, reading the world-readable crl.pem at the root. */
  async function startServer(): Promise<OpenVpnProcess> {
    const pki = join(dir, 'pki');
    const server = startOpenvpn(
      [
        '--tls-server',
        '--dev',
        'null',
        '--proto',
        'udp',
        '--local',
        '127.0.0.1',
        '--port',
        String(port),
        '--ca',
        join(pki, 'ca.crt'),
        '--cert',
        join(pki, 'issued', '127.0.0.1.crt'),
        '--key',
        join(pki, 'private', '127.0.0.1.key'),
        '--dh',
        'none',
        '--tls-auth',
        join(pki, 'ta.key'),
        '0',
        '--crl-verify',
        join(dir, 'crl.pem'),
        '--keepalive',
        '10',
        '60',
        '--verb',
        '3',
      ],
      30_000,
    );
    const up = await logMatch(server, /Initialization Sequence Completed|link local \(bound\)/, 10_000);
    if (up === null) throw new Error(`server did not start:\n${server.log()}`);
    return server;
  }

  function startClient(name: string): OpenVpnProcess {
    return startOpenvpn(
      [
        '--config',
        profiles[name],
        '--dev',
        'null',
        '--pull-filter',
        'ignore',
        'redirect-gateway',
        '--route-noexec',
        '--ifconfig-noexec',
        '--connect-retry-max',
        '1',
        '--verb',
        '3',
      ],
      20_000,
    );
  }

  async function handshake(name: string, ms: number) {
    const server = await startServer();
    const client = startClient(name);
    const clientMs = await logMatch(client, /Initialization Sequence Completed/, ms);
    await new Promise((r) => setTimeout(r, 300));
    await stopProcess(client.child);
    await stopProcess(server.child);
    return { clientMs, server: server.log(), client: client.log() };
  }

  it('a valid client from the downloaded profile completes the handshake', async () => {
    const r = await handshake('alice', 15_000);
    expect(r.clientMs).not.toBeNull();
    expect(r.server).toMatch(/Initialization Sequence Completed/);
    console.log(`alice handshake: ${r.clientMs} ms`);
  }, 60_000);

  it('a revoked client is refused by the server’s crl-verify', async () => {
    await request(t.baseUrl)
      .delete('/admin/vpn/clients/bob')
      .set('Cookie', staff.cookie)
      .set('X-CSRFToken', staff.csrf)
      .expect(204);
    const r = await handshake('bob', 6_000);
    expect(r.clientMs).toBeNull();
    expect(r.server).toMatch(/VERIFY ERROR: depth=0, error=certificate revoked: CN=bob/);
  }, 60_000);

  it('a short-lived CRL makes /health degraded; the job regenerates it and alice still connects', async () => {
    // What a lapsing kylemanna CRL looks like: gen-crl with EASYRSA_CRL_DAYS=1, copied to the volume root.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EASYRSA_PKI: join(dir, 'pki'),
      EASYRSA_BATCH: '1',
      EASYRSA_CRL_DAYS: '1',
    };
    delete env.EASYRSA_REQ_CN;
    const g = spawnSync(EASYRSA, ['gen-crl'], { env, cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(g.status).toBe(0);
    copyFileSync(join(dir, 'pki', 'crl.pem'), join(dir, 'crl.pem'));
    const next = () =>
      Date.parse(
        openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-nextupdate']).out.replace(
          /^nextUpdate=/,
          '',
        ),
      );
    const shortNext = next();
    expect(shortNext - Date.now()).toBeLessThan(1.1 * DAY);

    const health = await request(t.baseUrl).get('/health').expect(200);
    expect(JSON.stringify(health.body)).toMatch(/"vpn":\{"status":"degraded"/);

    const out = await t.app.get(VpnCrlJob).run();
    expect(out?.regenerated).toBe(true);
    const newNext = next();
    expect(newNext - Date.now()).toBeGreaterThan(30 * DAY);
    expect(newNext).toBeGreaterThan(shortNext);
    const status = await request(t.baseUrl).get('/admin/vpn/status').set('Cookie', staff.cookie).expect(200);
    expect(Date.parse(status.body.crlNextUpdate)).toBe(newNext);
    const healthAfter = await request(t.baseUrl).get('/health').expect(200);
    expect(JSON.stringify(healthAfter.body)).toMatch(/"vpn":\{"status":"up"/);
    // bob is still in the regenerated list
    const crlText = openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text']).out;
    expect(crlText).toMatch(/Serial Number:/);

    // a second run with plenty of validity left does not regenerate
    expect((await t.app.get(VpnCrlJob).run())?.regenerated).toBe(false);

    const r = await handshake('alice', 15_000);
    expect(r.clientMs).not.toBeNull();
  }, 90_000);
});
