import { X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { CommandResult, CommandRunner } from '../../common/command-runner';
import { VpnConfig } from './vpn.config';
import {
  assertClientName,
  CrlInfo,
  parseOpensslDate,
  PkiCerts,
  SERVER_CN,
  SERVER_URL,
  toolReason,
  VpnClientCert,
  VpnClientStatus,
  VpnRunner,
} from './vpn-runner';
import { VpnError } from './vpn.exception';

interface IndexEntry {
  flag: string;
  expires: Date | null;
  serial: string;
  name: string;
}

/** index.txt dates: YYMMDDHHMMSSZ (or YYYYMMDDHHMMSSZ). */
function indexDate(s: string): Date | null {
  const m = /^(\d{2}|\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return null;
  const year = m[1].length === 2 ? 2000 + Number(m[1]) : Number(m[1]);
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

function pemBlock(text: string, label: RegExp): string {
  const m = new RegExp(`-----BEGIN ${label.source}-----[\\s\\S]+?-----END ${label.source}-----`).exec(text);
  if (!m) throw new VpnError('tool_failed', 'PKI file without the expected PEM block', label.source);
  return m[0];
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The PKI on this host with Debian's easy-rsa, openssl and openvpn, in a folder laid out like the
 * kylemanna/openvpn volume: ovpn_env.sh, openvpn.conf, ccd/, crl.pem, pki/ (ta.key inside pki/).
 */
export class LocalVpnRunner extends VpnRunner {
  private readonly logger = new Logger('VpnLocal');
  private readonly dir: string;
  private readonly pki: string;

  constructor(
    private readonly config: VpnConfig,
    private readonly commands: CommandRunner,
  ) {
    super();
    this.dir = config.localDir;
    this.pki = join(config.localDir, 'pki');
  }

  private async run(
    command: string,
    args: string[],
    extraEnv: Record<string, string> = {},
  ): Promise<CommandResult> {
    const env: NodeJS.ProcessEnv = { ...process.env, EASYRSA_PKI: this.pki, EASYRSA_BATCH: '1', ...extraEnv };
    // easy-rsa 3.1 refuses build-*-full when EASYRSA_REQ_CN is set from outside.
    if (!('EASYRSA_REQ_CN' in extraEnv)) delete env.EASYRSA_REQ_CN;
    if (!env.EASYRSA_CRL_DAYS) env.EASYRSA_CRL_DAYS = '3650';
    const result = await this.commands.run(command, args, {
      timeoutMs: this.config.timeoutMs,
      maxOutputBytes: 64 * 1024,
      env,
      cwd: this.dir,
    });
    if (result.spawnError)
      throw new VpnError('unavailable', `${command} is not available`, result.spawnError);
    if (result.timedOut)
      throw new VpnError('unavailable', `${command} timed out`, `after ${result.durationMs} ms`);
    if (result.exitCode !== 0)
      throw new VpnError(
        'tool_failed',
        `${command} ${args[0] ?? ''} failed (exit ${result.exitCode})`,
        toolReason(result.stdout, result.stderr),
      );
    return result;
  }

  private easyrsa(args: string[], extraEnv: Record<string, string> = {}): Promise<CommandResult> {
    return this.run(this.config.easyrsaBin, args, extraEnv);
  }

  private async requirePki(): Promise<void> {
    if (!(await exists(join(this.pki, 'ca.crt'))) || !(await exists(join(this.pki, 'index.txt'))))
      throw new VpnError(
        'unavailable',
        'VPN PKI is not initialised',
        `no ${join(this.pki, 'ca.crt')}; run vpn-init --url udp://host:1194 first`,
      );
  }

  private async serverCn(): Promise<string> {
    const env = await readFile(join(this.dir, 'ovpn_env.sh'), 'utf8').catch(() => '');
    return /^declare -x OVPN_CN=(.*)$/m.exec(env)?.[1] ?? '';
  }

  private async settings(): Promise<{ cn: string; port: string; proto: string }> {
    const env = await readFile(join(this.dir, 'ovpn_env.sh'), 'utf8');
    const get = (k: string) => new RegExp(`^declare -x ${k}=(.*)$`, 'm').exec(env)?.[1] ?? '';
    return { cn: get('OVPN_CN'), port: get('OVPN_PORT') || '1194', proto: get('OVPN_PROTO') || 'udp' };
  }

  async init(url: string): Promise<void> {
    const m = SERVER_URL.exec(url);
    if (!m) throw new VpnError('tool_failed', 'invalid server URL', 'expected [udp|tcp]://host[:port]');
    const proto = m[1] ?? 'udp';
    const cn = m[2];
    const port = m[3] ?? '1194';
    if (await exists(join(this.pki, 'ca.crt')))
      throw new VpnError('conflict', 'a PKI already exists; refusing to overwrite it', this.pki);
    await mkdir(join(this.dir, 'ccd'), { recursive: true });
    await writeFile(
      join(this.dir, 'ovpn_env.sh'),
      [
        `declare -x OVPN_CN=${cn}`,
        'declare -x OVPN_DEFROUTE=1',
        'declare -x OVPN_DEVICE=tun',
        `declare -x OVPN_ENV=${join(this.dir, 'ovpn_env.sh')}`,
        `declare -x OVPN_PORT=${port}`,
        `declare -x OVPN_PROTO=${proto}`,
        'declare -x OVPN_SERVER=192.168.255.0/24',
        `declare -x OVPN_SERVER_URL=${url}`,
        '',
      ].join('\n'),
    );
    await writeFile(
      join(this.dir, 'openvpn.conf'),
      [
        'server 192.168.255.0 255.255.255.0',
        'verb 3',
        `key pki/private/${cn}.key`,
        'ca pki/ca.crt',
        `cert pki/issued/${cn}.crt`,
        // ovpn_initpki runs `easyrsa gen-dh` (minutes); ECDHE only here.
        'dh none',
        'tls-auth pki/ta.key',
        'key-direction 0',
        'keepalive 10 60',
        'persist-key',
        'persist-tun',
        '',
        `proto ${proto.replace('6', '')}`,
        'port 1194',
        'dev tun0',
        'status /tmp/openvpn-status.log',
        'crl-verify crl.pem',
        '',
        'user nobody',
        'group nogroup',
        '',
      ].join('\n'),
    );
    await this.easyrsa(['init-pki']);
    await this.easyrsa(['build-ca', 'nopass'], { EASYRSA_REQ_CN: `${cn} CA` });
    await this.run(this.config.openvpnBin, ['--genkey', 'secret', join(this.pki, 'ta.key')]);
    await this.easyrsa(['build-server-full', cn, 'nopass']);
    await this.genCrl();
    this.logger.log({ event: 'vpn_pki_initialised', dir: this.dir, cn, port, proto });
  }

  async readIndex(): Promise<IndexEntry[]> {
    await this.requirePki();
    const text = await readFile(join(this.pki, 'index.txt'), 'utf8');
    const entries: IndexEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const f = line.split('\t');
      const name = /\/CN=([^/]+)/.exec(f[5] ?? '')?.[1];
      if (!name) continue;
      entries.push({ flag: f[0], expires: indexDate(f[1]), serial: f[3], name });
    }
    return entries;
  }

  async createClient(name: string): Promise<void> {
    assertClientName(name);
    const entries = await this.readIndex();
    if (entries.some((e) => e.name === name) || name === (await this.serverCn()))
      throw new VpnError('conflict', `client "${name}" already exists`);
    await this.easyrsa(['build-client-full', name, 'nopass']);
  }

  private async certFile(entry: IndexEntry): Promise<string | null> {
    const candidates = [
      join(this.pki, 'issued', `${entry.name}.crt`),
      join(this.pki, 'revoked', 'certs_by_serial', `${entry.serial}.crt`),
      join(this.pki, 'certs_by_serial', `${entry.serial}.pem`),
    ];
    for (const c of candidates) if (await exists(c)) return c;
    return null;
  }

  async listClients(): Promise<VpnClientCert[]> {
    const entries = await this.readIndex();
    const server = await this.serverCn();
    const now = Date.now();
    const out: VpnClientCert[] = [];
    // A renewed client has its revoked entry and, after it, the new one: the latest entry is the client.
    const latest = new Map<string, IndexEntry>();
    for (const e of entries) latest.set(e.name, e);
    for (const e of latest.values()) {
      if (e.name === server) continue;
      let status: VpnClientStatus = e.flag === 'R' ? 'REVOKED' : e.flag === 'E' ? 'EXPIRED' : 'VALID';
      if (status === 'VALID' && e.expires && e.expires.getTime() < now) status = 'EXPIRED';
      let notBefore: string | null = null;
      let notAfter = e.expires ? e.expires.toISOString() : null;
      const file = await this.certFile(e);
      if (file) {
        const cert = new X509Certificate(pemBlock(await readFile(file, 'utf8'), /CERTIFICATE/));
        notBefore = new Date(cert.validFrom).toISOString();
        notAfter = new Date(cert.validTo).toISOString();
      }
      out.push({ name: e.name, status, notBefore, notAfter });
    }
    return out;
  }

  /** What `ovpn_getclient NAME` (combined) prints. */
  async getProfile(name: string): Promise<string> {
    assertClientName(name);
    await this.requirePki();
    const keyPath = join(this.pki, 'private', `${name}.key`);
    if (!(await exists(keyPath)))
      throw new VpnError('not_found', `Unable to find "${name}", please try again or generate the key first`);
    const s = await this.settings();
    const key = pemBlock(await readFile(keyPath, 'utf8'), /[A-Z ]*PRIVATE KEY/);
    const cert = pemBlock(await readFile(join(this.pki, 'issued', `${name}.crt`), 'utf8'), /CERTIFICATE/);
    const ca = pemBlock(await readFile(join(this.pki, 'ca.crt'), 'utf8'), /CERTIFICATE/);
    const ta = (await readFile(join(this.pki, 'ta.key'), 'utf8')).trim();
    return [
      '',
      'client',
      'nobind',
      'dev tun',
      'remote-cert-tls server',
      '',
      `remote ${s.cn} ${s.port} ${s.proto.replace('6', '')}`,
      '',
      '<key>',
      key,
      '</key>',
      '<cert>',
      cert,
      '</cert>',
      '<ca>',
      ca,
      '</ca>',
      'key-direction 1',
      '<tls-auth>',
      ta,
      '</tls-auth>',
      '',
      'redirect-gateway def1',
      '',
    ].join('\n');
  }

  async revokeClient(name: string): Promise<void> {
    assertClientName(name);
    // The latest entry: a renewed client also has its earlier, revoked one.
    const entry = (await this.readIndex()).filter((e) => e.name === name).pop();
    if (!entry) throw new VpnError('not_found', `client "${name}" does not exist`);
    if (entry.flag === 'R') throw new VpnError('gone', `client "${name}" is already revoked`);
    await this.easyrsa(['revoke', name]);
    await this.genCrl();
  }

  async renewClient(name: string): Promise<void> {
    assertClientName(name);
    const entry = (await this.readIndex()).filter((e) => e.name === name).pop();
    if (!entry) throw new VpnError('not_found', `client "${name}" does not exist`);
    if (entry.flag === 'R') throw new VpnError('gone', `client "${name}" is revoked`);
    // easy-rsa 3.1's revoke moves the old files under pki/revoked/, which frees the name.
    await this.easyrsa(['revoke', name]);
    await this.easyrsa(['build-client-full', name, 'nopass']);
    await this.genCrl();
  }

  async pkiCerts(): Promise<PkiCerts> {
    await this.requirePki();
    const dates = async (file: string) => {
      const cert = new X509Certificate(pemBlock(await readFile(file, 'utf8'), /CERTIFICATE/));
      return {
        notBefore: new Date(cert.validFrom).toISOString(),
        notAfter: new Date(cert.validTo).toISOString(),
      };
    };
    const cn = await this.serverCn();
    const serverFile = join(this.pki, 'issued', `${cn}.crt`);
    return {
      ca: await dates(join(this.pki, 'ca.crt')),
      server:
        SERVER_CN.test(cn) && (await exists(serverFile)) ? { name: cn, ...(await dates(serverFile)) } : null,
    };
  }

  async genCrl(): Promise<void> {
    await this.easyrsa(['gen-crl']);
    const target = join(this.dir, 'crl.pem');
    await copyFile(join(this.pki, 'crl.pem'), target);
    await chmod(target, 0o644);
  }

  async crlInfo(): Promise<CrlInfo> {
    await this.requirePki();
    const crl = join(this.pki, 'crl.pem');
    if (!(await exists(crl))) return { nextUpdate: null };
    const r = await this.run(this.config.opensslBin, ['crl', '-in', crl, '-noout', '-nextupdate']);
    return { nextUpdate: parseOpensslDate(r.stdout.replace(/^nextUpdate=/, '')) };
  }
}
