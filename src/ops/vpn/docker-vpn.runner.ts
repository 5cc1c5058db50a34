import { CommandRunner } from '../../common/command-runner';
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

const NOT_INITIALISED = /ovpn_env\.sh|No such file|pki.*(not found|does not exist)|Missing or invalid PKI/i;
const DAEMON_DOWN =
  /Cannot connect to the Docker daemon|docker daemon is not running|permission denied.*docker\.sock/i;

/** Each operation is one `docker run --rm` of the kylemanna/openvpn image on the OVPN_DATA volume. */
export class DockerVpnRunner extends VpnRunner {
  constructor(
    private readonly config: VpnConfig,
    private readonly commands: CommandRunner,
  ) {
    super();
  }

  /** `docker run --rm -v <OVPN_DATA>:/etc/openvpn [-e EASYRSA_BATCH=1] <OVPN_IMAGE> …command`. */
  argv(command: string[], batch: boolean): string[] {
    return [
      'run',
      '--rm',
      '-v',
      `${this.config.ovpnData}:/etc/openvpn`,
      ...(batch ? ['-e', 'EASYRSA_BATCH=1'] : []),
      this.config.ovpnImage,
      ...command,
    ];
  }

  private async docker(command: string[], batch = false, allowFail = false) {
    const result = await this.commands.run(this.config.dockerBin, this.argv(command, batch), {
      timeoutMs: this.config.timeoutMs,
      maxOutputBytes: 256 * 1024,
    });
    if (result.spawnError)
      throw new VpnError(
        'unavailable',
        `docker (${this.config.dockerBin}) is not available`,
        result.spawnError,
      );
    if (result.timedOut)
      throw new VpnError('unavailable', 'docker timed out', `after ${result.durationMs} ms`);
    const reason = toolReason(result.stdout, result.stderr);
    if (result.exitCode !== 0 && DAEMON_DOWN.test(result.stderr))
      throw new VpnError('unavailable', 'the Docker daemon is not reachable', reason);
    if (result.exitCode !== 0 && !allowFail) {
      if (/Unable to find "/.test(result.stderr + result.stdout))
        throw new VpnError('not_found', `${command[0]}: client not found`, reason);
      if (NOT_INITIALISED.test(result.stderr + result.stdout))
        throw new VpnError('unavailable', `the ${this.config.ovpnData} volume is not initialised`, reason);
      throw new VpnError('tool_failed', `${command[0]} failed (exit ${result.exitCode})`, reason);
    }
    return result;
  }

  async init(url: string): Promise<void> {
    if (!SERVER_URL.test(url))
      throw new VpnError('tool_failed', 'invalid server URL', 'expected [udp|tcp]://host[:port]');
    const probe = await this.docker(['test', '-f', '/etc/openvpn/pki/ca.crt'], false, true);
    if (probe.exitCode === 0)
      throw new VpnError('conflict', 'a PKI already exists; refusing to overwrite it', this.config.ovpnData);
    await this.docker(['ovpn_genconfig', '-u', url]);
    await this.docker(['ovpn_initpki', 'nopass'], true);
  }

  async createClient(name: string): Promise<void> {
    assertClientName(name);
    const clients = await this.listClients();
    if (clients.some((c) => c.name === name))
      throw new VpnError('conflict', `client "${name}" already exists`);
    await this.docker(['easyrsa', 'build-client-full', name, 'nopass'], true);
  }

  /** Parses ovpn_listclients' CSV: `name,begin,end,status`. */
  async listClients(): Promise<VpnClientCert[]> {
    const r = await this.docker(['ovpn_listclients']);
    // One row per name, the last one listed (a renewed client's new certificate).
    const out = new Map<string, VpnClientCert>();
    for (const line of r.stdout.split('\n')) {
      const f = line.trim().split(',');
      if (f.length < 4 || f[0] === 'name') continue;
      const status = (['VALID', 'REVOKED', 'EXPIRED'].includes(f[3]) ? f[3] : 'INVALID') as VpnClientStatus;
      out.set(f[0], {
        name: f[0],
        status,
        notBefore: parseOpensslDate(f[1])?.toISOString() ?? null,
        notAfter: parseOpensslDate(f[2])?.toISOString() ?? null,
      });
    }
    return [...out.values()];
  }

  async getProfile(name: string): Promise<string> {
    assertClientName(name);
    const r = await this.docker(['ovpn_getclient', name]);
    return r.stdout;
  }

  async revokeClient(name: string): Promise<void> {
    assertClientName(name);
    const clients = await this.listClients();
    const c = clients.find((x) => x.name === name);
    if (!c) throw new VpnError('not_found', `client "${name}" does not exist`);
    if (c.status === 'REVOKED') throw new VpnError('gone', `client "${name}" is already revoked`);
    // ovpn_revokeclient revokes, regenerates the CRL and copies it to /etc/openvpn/crl.pem (0644).
    await this.docker(['ovpn_revokeclient', name, 'remove'], true);
  }

  async renewClient(name: string): Promise<void> {
    assertClientName(name);
    const c = (await this.listClients()).find((x) => x.name === name);
    if (!c) throw new VpnError('not_found', `client "${name}" does not exist`);
    if (c.status === 'REVOKED') throw new VpnError('gone', `client "${name}" is revoked`);
    // `remove` deletes the old files after revoking (and regenerates the CRL), so the name can be issued again.
    await this.docker(['ovpn_revokeclient', name, 'remove'], true);
    await this.docker(['easyrsa', 'build-client-full', name, 'nopass'], true);
  }

  private async certDates(path: string): Promise<{ notBefore: string | null; notAfter: string | null }> {
    const r = await this.docker(['openssl', 'x509', '-in', path, '-noout', '-startdate', '-enddate']);
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
    return {
      notBefore: parseOpensslDate(field('notBefore'))?.toISOString() ?? null,
      notAfter: parseOpensslDate(field('notAfter'))?.toISOString() ?? null,
    };
  }

  async pkiCerts(): Promise<PkiCerts> {
    const env = await this.docker(['cat', '/etc/openvpn/ovpn_env.sh']);
    const cn = /^declare -x OVPN_CN=(.*)$/m.exec(env.stdout)?.[1]?.trim() ?? '';
    return {
      ca: await this.certDates('/etc/openvpn/pki/ca.crt'),
      server: SERVER_CN.test(cn)
        ? { name: cn, ...(await this.certDates(`/etc/openvpn/pki/issued/${cn}.crt`)) }
        : null,
    };
  }

  async genCrl(): Promise<void> {
    await this.docker(['easyrsa', 'gen-crl'], true);
    await this.docker(['cp', '-f', '/etc/openvpn/pki/crl.pem', '/etc/openvpn/crl.pem']);
    await this.docker(['chmod', '644', '/etc/openvpn/crl.pem']);
  }

  async crlInfo(): Promise<CrlInfo> {
    const r = await this.docker([
      'openssl',
      'crl',
      '-in',
      '/etc/openvpn/pki/crl.pem',
      '-noout',
      '-nextupdate',
    ]);
    return { nextUpdate: parseOpensslDate(r.stdout.trim().replace(/^nextUpdate=/, '')) };
  }
}
