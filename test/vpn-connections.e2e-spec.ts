import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import request from 'supertest';
import { ApiTokenStore } from '../src/auth/tokens/api-token.store';
import { UsersService } from '../src/auth/users.service';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { createUser, login, LoginSession } from './support/users';
import {
  EASYRSA,
  freePort,
  OpenVpnProcess,
  startOpenvpn,
  stopOpenvpns,
  stopProcess,
  vpnToolsAvailable,
  waitForLog,
} from './support/vpn';
import { eventually, openWs } from './support/ws';

const describeVpn = vpnToolsAvailable() && chromiumAvailable() ? describe : describe.skip;

type Connection = {
  name: string;
  realAddress: string;
  vpnAddress: string;
  bytesIn: number;
  bytesOut: number;
  connectedSince: string;
};

/**
 * Who is connected, through the management interface of a real OpenVPN 2.6 server in server mode
 * (TUN device, disable-dco, a random private /24, management on loopback); clients with --dev null.
 */
describeVpn('VPN connections: a real OpenVPN server in server mode and its management interface', () => {
  let t: TestApp;
  let staff: LoginSession;
  let fay: LoginSession;
  let fayId: number;
  let dir: string;
  let udpPort: number;
  let server: OpenVpnProcess;
  let laptop: OpenVpnProcess;
  let browser: Browser | undefined;
  const subnet = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;

  const http = () => request(t.baseUrl);
  const as = (s: LoginSession, r: request.Test) => r.set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
  const connections = async () =>
    (await as(staff, http().get('/admin/vpn/connections')).expect(200)).body as Connection[];
  const client = (name: string) =>
    startOpenvpn([
      '--config',
      join(dir, `${name}.ovpn`),
      '--dev',
      'null',
      '--route-noexec',
      '--ifconfig-noexec',
      '--pull-filter',
      'ignore',
      'redirect-gateway',
      '--pull-filter',
      'ignore',
      'dhcp-option',
      '--pull-filter',
      'ignore',
      'route',
      '--verb',
      '3',
    ]);

  beforeAll(async () => {
    udpPort = await freePort('udp');
    const mgmtPort = await freePort('tcp');
    t = await startApp({
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
      VPN_SELF_SERVICE: 'true',
      VPN_MANAGEMENT: `127.0.0.1:${mgmtPort}`,
    });
    dir = join(t.dataDir, 'openvpn');
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true, isSuperuser: true });
    fayId = (await createUser(t, { username: 'fay', password: 'fay-pass', firstName: 'Fay' })).id;
    staff = await login(t, 'boss', 'boss-pass');
    fay = await login(t, 'fay', 'fay-pass');
    // Not running yet: the endpoints say so, the rest works.
    const down = await as(staff, http().get('/admin/vpn/connections')).expect(503);
    expect(down.body.message).toMatch(/management interface \(127\.0\.0\.1:\d+\) is unreachable/);
    await t.app.get(VpnService).init(`udp://127.0.0.1:${udpPort}`, 'test');
    for (const [name, user] of [
      ['fay-laptop', 'fay'],
      ['fay-phone', 'fay'],
      ['gus', undefined],
    ])
      await as(staff, http().post('/admin/vpn/clients')).send({ name, user }).expect(201);
    const pki = join(dir, 'pki');
    writeFileSync(
      join(dir, 'server-test.conf'),
      [
        'dev tun',
        'disable-dco',
        `server ${subnet}.0 255.255.255.0`,
        'topology subnet',
        'local 127.0.0.1',
        `port ${udpPort}`,
        'proto udp',
        `ca ${pki}/ca.crt`,
        `cert ${pki}/issued/127.0.0.1.crt`,
        `key ${pki}/private/127.0.0.1.key`,
        'dh none',
        `tls-auth ${pki}/ta.key 0`,
        `crl-verify ${dir}/crl.pem`,
        'keepalive 1 5',
        `management 127.0.0.1 ${mgmtPort}`,
        'verb 3',
        '',
      ].join('\n'),
    );
    server = startOpenvpn(['--config', join(dir, 'server-test.conf')]);
    await waitForLog(server, /Initialization Sequence Completed/, 15_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopOpenvpns();
    await t?.close();
  });

  it('the user downloads her own profile, a one-time link gives gus his; nobody is connected yet', async () => {
    const own = await as(fay, http().get('/me/vpn/clients/fay-laptop/profile')).expect(200);
    writeFileSync(join(dir, 'fay-laptop.ovpn'), own.text);
    const phone = await as(fay, http().get('/me/vpn/clients/fay-phone/profile')).expect(200);
    writeFileSync(join(dir, 'fay-phone.ovpn'), phone.text);
    const link = await as(staff, http().post('/admin/vpn/clients/gus/link')).expect(201);
    const gus = await http().get(link.body.path).expect(200);
    writeFileSync(join(dir, 'gus.ovpn'), gus.text);
    await http().get(link.body.path).expect(410);
    expect(await connections()).toEqual([]);
  });

  it('after a real handshake the client is listed with addresses and bytes, and in /metrics', async () => {
    laptop = client('fay-laptop');
    await waitForLog(laptop, /Initialization Sequence Completed/, 20_000);
    await eventually(
      async () => (await connections()).some((x) => x.name === 'fay-laptop' && x.bytesIn > 0),
      10_000,
    );
    const [conn] = (await connections()).filter((x) => x.name === 'fay-laptop');
    expect(conn.realAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(conn.vpnAddress).toMatch(new RegExp(`^${subnet.replace(/\./g, '\\.')}\\.\\d+$`));
    expect(conn.bytesOut).toBeGreaterThan(0);
    expect(Math.abs(Date.parse(conn.connectedSince) - Date.now())).toBeLessThan(60_000);
    const metrics = (await http().get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^live_vpn_connected_clients 1$/m);
    expect(metrics).toMatch(/^live_vpn_client_bytes\{client="fay-laptop",direction="in"\} [1-9]\d*$/m);
    await as(fay, http().get('/admin/vpn/connections')).expect(403);
  }, 60_000);

  it('the console shows who is connected, live, and disconnects after asking (Chromium, screenshots)', async () => {
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', 'boss');
    await page.fill('input[name=password]', 'boss-pass');
    await page.click('button[type=submit]');
    await page.locator('#view[data-tab="users"]').waitFor({ timeout: 10_000 });
    await page.goto(`${t.baseUrl}/admin/#vpn`);
    const row = page.locator('tr[data-connection="fay-laptop"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td').nth(1).textContent()).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await row.locator('td').nth(3).textContent()).toMatch(/^\d+(\.\d)? (B|KiB|MiB)$/);
    await page.screenshot({ path: join(ARTIFACTS, 'vpn-connections.png'), fullPage: true });
    await row.getByRole('button', { name: 'Disconnect fay-laptop' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Disconnect' }).click();
    // The server drops the halted client's instance within its keepalive; the page polls every 5 s.
    await page.locator('#vpn-no-connections').waitFor({ timeout: 30_000 });
    expect(await page.locator('#flash').textContent()).toBe('fay-laptop disconnected.');
    await waitForLog(
      laptop,
      /Halt command was pushed by server[\s\S]*server-pushed-halt\] received, process exiting/,
      10_000,
    );
    // live: a client that connects now shows up without reloading the page
    laptop = client('fay-laptop');
    await waitForLog(laptop, /Initialization Sequence Completed/, 20_000);
    await row.waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'vpn-connections-live.png'), fullPage: true });
    await page.context().close();
  }, 90_000);

  it('DELETE disconnects it: the client log shows it, the list no longer has it', async () => {
    await as(staff, http().delete('/admin/vpn/connections/fay-laptop')).expect(204);
    await eventually(async () => !(await connections()).some((x) => x.name === 'fay-laptop'), 10_000);
    await waitForLog(
      laptop,
      /Halt command was pushed by server[\s\S]*server-pushed-halt\] received, process exiting/,
      10_000,
    );
    const nope = await as(staff, http().delete('/admin/vpn/connections/fay-laptop')).expect(404);
    expect(nope.body.message).toBe('client "fay-laptop" is not connected');
    await as(staff, http().delete('/admin/vpn/connections/a%3Bb')).expect(400);
    const audit = (await as(staff, http().get('/admin/vpn/audit')).expect(200)).body;
    expect(audit[0]).toMatchObject({ action: 'disconnect', clientName: 'fay-laptop', outcome: 'failed' });
    expect(audit[1]).toMatchObject({ action: 'disconnect', clientName: 'fay-laptop', outcome: 'ok' });
  }, 30_000);

  it('revoking a connected client disconnects it, and it cannot come back', async () => {
    const gus = client('gus');
    await waitForLog(gus, /Initialization Sequence Completed/, 20_000);
    await eventually(async () => (await connections()).some((x) => x.name === 'gus'), 10_000);
    await as(staff, http().delete('/admin/vpn/clients/gus')).expect(204);
    await eventually(async () => !(await connections()).some((x) => x.name === 'gus'), 10_000);
    await waitForLog(
      gus,
      /Halt command was pushed by server[\s\S]*server-pushed-halt\] received, process exiting/,
      10_000,
    );
    // the same profile again: the server refuses it by the CRL
    const again = client('gus');
    await waitForLog(server, /VERIFY ERROR: depth=0, error=certificate revoked: CN=gus/, 15_000);
    await stopProcess(again.child);
    expect(again.log()).not.toMatch(/Initialization Sequence Completed/);
    expect((await connections()).map((x) => x.name)).not.toContain('gus');
  }, 60_000);

  it('offboarding a user with a session, an open socket, two clients (one connected) and a token ends all of it', async () => {
    const phone = client('fay-phone');
    await waitForLog(phone, /Initialization Sequence Completed/, 20_000);
    await eventually(async () => (await connections()).some((x) => x.name === 'fay-phone'), 10_000);
    const socket = await openWs(`ws://127.0.0.1:${t.port}/chat/vpn-offboard/?history=0`, {
      protocols: ['live.v1'],
      headers: { cookie: fay.cookie },
    });
    const fayUser = await t.app.get(UsersService).get(fayId);
    const { key } = await t.app.get(ApiTokenStore).create({
      user: fayUser,
      name: 'fay-cli',
      scopes: ['chat:read'],
      expiresInDays: null,
      createdBy: null,
    });
    await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(200);

    const res = await as(staff, http().post(`/admin/users/${fayId}/offboard`)).expect(200);
    expect(res.body.complete).toBe(true);
    expect(
      res.body.items.map(
        (i: { step: string; target: string | null; outcome: string }) =>
          `${i.step}:${i.target ?? ''}:${i.outcome}`,
      ),
    ).toEqual([
      'deactivate::done',
      'sessions::done',
      expect.stringMatching(/^tokens:\d+:done$/),
      'vpn:fay-laptop:done',
      'vpn:fay-phone:done',
    ]);
    // one by one
    expect((await as(staff, http().get(`/admin/users/${fayId}`)).expect(200)).body.isActive).toBe(false);
    await as(fay, http().get('/auth/me')).expect(401);
    expect(await socket.closed).toEqual({ code: 4001, reason: 'session ended' });
    await http().get('/auth/me').set('Authorization', `Token ${key}`).expect(401);
    const owned = (await as(staff, http().get(`/admin/users/${fayId}/vpn-clients`)).expect(200)).body;
    expect(owned.map((c: { name: string; status: string }) => `${c.name}:${c.status}`)).toEqual([
      'fay-laptop:REVOKED',
      'fay-phone:REVOKED',
    ]);
    await eventually(async () => !(await connections()).some((x) => x.name === 'fay-phone'), 10_000);
    await waitForLog(
      phone,
      /Halt command was pushed by server[\s\S]*server-pushed-halt\] received, process exiting/,
      10_000,
    );
  }, 60_000);
});
