import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VpnError } from './vpn.exception';

/** What vpn-init wrote into ovpn_env.sh (the kylemanna/openvpn layout): the server's own settings. */
export interface OvpnEnv {
  cn: string;
  proto: 'udp' | 'tcp' | 'udp6' | 'tcp6';
  port: number;
  /** The VPN's own network, `a.b.c.d/nn` (OVPN_SERVER). */
  network: string;
}

export interface ServerConfigOptions {
  /** VPN_LOCAL_DIR: where the PKI, crl.pem and ovpn_env.sh are. */
  dir: string;
  env: OvpnEnv;
  /** The management interface to open (VPN_MANAGEMENT): `host:port` on loopback, or a unix socket path. */
  management?: string;
  /** Without kernel data-channel offload (hosts without the ovpn-dco module, containers). */
  disableDco?: boolean;
  /** Drop to nobody:nogroup after start (default); crl.pem and its folders must then be world-readable. */
  dropPrivileges?: boolean;
}

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const NETWORK = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
/** A management address: 127.x.x.x:port or [::1]:port (never a public address), or an absolute socket path. */
const MANAGEMENT_TCP = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):(\d{1,5})$/;
const SAFE_PATH = /^\/[A-Za-z0-9_./-]{1,200}$/;

/** Reads ovpn_env.sh as vpn-init wrote it, checking each value (they end up in a config file). */
export async function readOvpnEnv(dir: string): Promise<OvpnEnv> {
  const text = await readFile(join(dir, 'ovpn_env.sh'), 'utf8').catch(() => {
    throw new VpnError(
      'unavailable',
      'VPN PKI is not initialised',
      `no ${join(dir, 'ovpn_env.sh')}; run vpn-init first`,
    );
  });
  const get = (k: string) => new RegExp(`^declare -x ${k}=(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const cn = get('OVPN_CN');
  const proto = get('OVPN_PROTO') || 'udp';
  const port = Number(get('OVPN_PORT') || '1194');
  const network = get('OVPN_SERVER') || '192.168.255.0/24';
  if (!HOST.test(cn) || cn.length > 253)
    throw new VpnError('invalid', `ovpn_env.sh: OVPN_CN ${JSON.stringify(cn)} is not a host name`);
  if (!['udp', 'tcp', 'udp6', 'tcp6'].includes(proto))
    throw new VpnError('invalid', `ovpn_env.sh: OVPN_PROTO ${proto} is not udp or tcp`);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new VpnError('invalid', 'ovpn_env.sh: OVPN_PORT is not a port');
  return { cn, proto: proto as OvpnEnv['proto'], port, network: checkNetwork(network) };
}

/** `a.b.c.d/nn` with nn from 8 to 30 and a.b.c.d the network's own address; returned as given. */
export function checkNetwork(network: string): string {
  const m = NETWORK.exec(network);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || prefix < 8 || prefix > 30)
    throw new VpnError(
      'invalid',
      `the VPN network must be a.b.c.d/nn with nn from 8 to 30, not ${JSON.stringify(network)}`,
    );
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0)
    throw new VpnError('invalid', `${network} is not a network address (host bits set)`);
  return network;
}

function netmask(prefix: number): string {
  const mask = 2 ** 32 - 2 ** (32 - prefix);
  return [24, 16, 8, 0].map((s) => Math.floor(mask / 2 ** s) % 256).join('.');
}

/** `host:port` or a socket path as OpenVPN's `management` directive takes it. */
export function managementDirective(address: string): string {
  const tcp = MANAGEMENT_TCP.exec(address);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new VpnError('invalid', `management port ${tcp[2]} is out of range`);
    return `management ${tcp[1].replace(/^\[|\]$/g, '')} ${port}`;
  }
  if (SAFE_PATH.test(address) && !address.includes('..')) return `management ${address} unix`;
  throw new VpnError(
    'invalid',
    `the management interface must be on loopback (127.0.0.1:7505, [::1]:7505) or a unix socket path, not ${JSON.stringify(address)}`,
  );
}

/**
 * The OpenVPN server configuration for the PKI the local runner made (kylemanna/openvpn's layout),
 * with absolute paths, for Debian's `openvpn-server@live` unit (/etc/openvpn/server/live.conf). The
 * same settings as the container's openvpn.conf: tun, the VPN network, ECDHE without DH
 * parameters, tls-auth, the CRL checked on each connection (live rewrites crl.pem on revocation).
 */
export function renderServerConfig(o: ServerConfigOptions): string {
  if (!SAFE_PATH.test(o.dir) || o.dir.includes('..'))
    throw new VpnError(
      'invalid',
      `VPN_LOCAL_DIR ${JSON.stringify(o.dir)} must be an absolute path of letters, digits and _./-`,
    );
  const [address, prefix] = checkNetwork(o.env.network).split('/');
  const pki = join(o.dir, 'pki');
  const lines = [
    `# OpenVPN server for live's PKI in ${o.dir}, made by \`npm run manage -- vpn-server-config\`.`,
    '# Install: save as /etc/openvpn/server/live.conf, then `systemctl enable --now openvpn-server@live`.',
    '# Made again after vpn-init; revocations need no change here (crl-verify reads crl.pem each time).',
    `port ${o.env.port}`,
    `proto ${o.env.proto}`,
    'dev tun',
    ...(o.disableDco ? ['disable-dco'] : []),
    'topology subnet',
    `server ${address} ${netmask(Number(prefix))}`,
    `ca ${pki}/ca.crt`,
    `cert ${pki}/issued/${o.env.cn}.crt`,
    `key ${pki}/private/${o.env.cn}.key`,
    'dh none',
    `tls-auth ${pki}/ta.key 0`,
    `crl-verify ${join(o.dir, 'crl.pem')}`,
    'keepalive 10 60',
    'persist-key',
    'persist-tun',
    ...(o.dropPrivileges === false ? [] : ['user nobody', 'group nogroup']),
    ...(o.management ? [managementDirective(o.management)] : []),
    'verb 3',
  ];
  return lines.join('\n') + '\n';
}
