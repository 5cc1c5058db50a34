import { chmodSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { manage } from './support/manage';
import {
  EASYRSA,
  freePort,
  OpenVpnProcess,
  startOpenvpn,
  stopOpenvpns,
  vpnToolsAvailable,
  waitForLog,
} from './support/vpn';

/**
 * `manage vpn-server-config` (issue 22): the server config it prints for the local runner's PKI
 * runs a real OpenVPN 2.6 server in server mode (TUN), a client with a profile live made connects,
 * and the management interface it opens lists that client.
 */
/** One management command's answer, up to its END line. */
function management(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('>INFO:') && !text.includes('\nEND')) socket.write(`${command}\n`);
      if (/\nEND\r?\n/.test(text)) {
        socket.end('quit\n');
        resolve(text);
      }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error(`management: no answer to ${command}: ${text}`)), 10_000).unref();
  });
}

(vpnToolsAvailable() ? describe : describe.skip)(
  'manage vpn-server-config runs a real OpenVPN server',
  () => {
    let t: TestApp;
    let env: Record<string, string>;
    let server: OpenVpnProcess | undefined;
    let client: OpenVpnProcess | undefined;
    let udpPort: number;
    let mgmtPort: number;
    const subnet = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;

    beforeAll(async () => {
      udpPort = await freePort('udp');
      mgmtPort = await freePort('tcp');
      env = { VPN_RUNNER: 'local', EASYRSA_BIN: EASYRSA, VPN_CRL_CRON: 'off', CERT_RENEW_CRON: 'off' };
      t = await startApp(env);
      await t.app.get(VpnService).init(`udp://127.0.0.1:${udpPort}`, 'test');
      await t.app.get(VpnService).create('ann', 'test');
      writeFileSync(join(t.dataDir, 'ann.ovpn'), await t.app.get(VpnService).profile('ann', 'test'));
    }, 120_000);

    afterAll(async () => {
      await stopOpenvpns();
      await t?.close();
    });

    it('refuses a management address off loopback, a bad network and a bad port (exit 2, saying why)', async () => {
      const base = { DATA_DIR: t.dataDir, ...env };
      const [offLoopback, hostBits, port] = await Promise.all([
        manage(['vpn-server-config', '--management', '0.0.0.0:7505'], base),
        manage(['vpn-server-config', '--network', '10.1.2.3/24'], base),
        manage(['vpn-server-config', '--port', '70000'], base),
      ]);
      expect([offLoopback.code, hostBits.code, port.code]).toEqual([2, 2, 2]);
      expect(offLoopback.stderr).toContain('must be on loopback');
      expect(hostBits.stderr).toContain('not a network address');
      expect(port.stderr).toContain('--port must be a port number');
    }, 60_000);

    it('prints a config that a real server runs; a live profile connects; the management interface lists it', async () => {
      const made = await manage(
        [
          'vpn-server-config',
          '--management',
          `127.0.0.1:${mgmtPort}`,
          '--network',
          `${subnet}.0/24`,
          '--disable-dco',
        ],
        { DATA_DIR: t.dataDir, ...env },
      );
      expect(made.code).toBe(0);
      const config = made.stdout;
      expect(config).toContain(`port ${udpPort}`);
      expect(config).toContain(`server ${subnet}.0 255.255.255.0`);
      expect(config).toContain(`management 127.0.0.1 ${mgmtPort}`);
      expect(config).toContain(`crl-verify ${join(t.dataDir, 'openvpn', 'crl.pem')}`);
      // The server drops to nobody and reads crl.pem at each connection: the folders must let it.
      chmodSync(t.dataDir, 0o755);
      chmodSync(join(t.dataDir, 'openvpn'), 0o755);
      const file = join(t.dataDir, 'live.conf');
      writeFileSync(file, config);
      server = startOpenvpn(['--config', file]);
      await waitForLog(server, /Initialization Sequence Completed/, 20_000);
      client = startOpenvpn([
        '--config',
        join(t.dataDir, 'ann.ovpn'),
        '--dev',
        'null',
        '--route-noexec',
        '--ifconfig-noexec',
        '--pull-filter',
        'ignore',
        'redirect-gateway',
        '--pull-filter',
        'ignore',
        'route',
        '--verb',
        '3',
      ]);
      await waitForLog(client, /Initialization Sequence Completed/, 30_000);
      await waitForLog(
        server,
        /ann\/127\.0\.0\.1:\d+ .*(MULTI_sva: pool returned|SENT CONTROL \[ann\]: 'PUSH_REPLY)/,
        10_000,
      );
      const status = await management(mgmtPort, 'status 2');
      expect(status).toMatch(
        new RegExp(`CLIENT_LIST,ann,127\\.0\\.0\\.1:\\d+,${subnet.replaceAll('.', '\\.')}\\.\\d+`),
      );
    }, 90_000);
  },
);
