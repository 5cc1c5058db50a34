export type VpnClientStatus = 'VALID' | 'REVOKED' | 'EXPIRED' | 'INVALID';

export interface VpnClientCert {
  name: string;
  status: VpnClientStatus;
  notBefore: string | null;
  notAfter: string | null;
}

/** The CA's and the server's own certificates (notBefore/notAfter as ISO strings). */
export interface PkiCerts {
  ca: { notBefore: string | null; notAfter: string | null };
  server: { name: string; notBefore: string | null; notAfter: string | null } | null;
}

/** ovpn_env.sh's OVPN_CN (the server certificate's name): checked before it names a file. */
export const SERVER_CN = /^[0-9A-Za-z][0-9A-Za-z.-]{0,252}$/;

export interface CrlInfo {
  nextUpdate: Date | null;
}

/** Client names: checked before anything reaches a command line or a path. */
export const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** ovpn_genconfig's URL: [proto://]host[:port]. */
export const SERVER_URL = /^(?:(udp|tcp|udp6|tcp6):\/\/)?([0-9A-Za-z.-]{1,253})(?::([0-9]{1,5}))?$/;

/** The PKI operations, as the kylemanna/openvpn image offers them; two implementations (docker, local). */
export abstract class VpnRunner {
  abstract init(url: string): Promise<void>;
  abstract createClient(name: string): Promise<void>;
  abstract listClients(): Promise<VpnClientCert[]>;
  abstract getProfile(name: string): Promise<string>;
  abstract revokeClient(name: string): Promise<void>;
  /** Revokes the client's certificate and issues a new one under the same name (CRL regenerated). */
  abstract renewClient(name: string): Promise<void>;
  abstract pkiCerts(): Promise<PkiCerts>;
  /** Regenerates the CRL and puts the world-readable copy where the server reads it. */
  abstract genCrl(): Promise<void>;
  abstract crlInfo(): Promise<CrlInfo>;
}

/** Defence in depth: the service validates first, the runners refuse again before any command or path. */
export function assertClientName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !CLIENT_NAME.test(name)) throw new Error('invalid client name');
}

/** The last meaningful line of a tool's output, for error messages. */
export function toolReason(stdout: string, stderr: string): string {
  const lines = `${stderr}\n${stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const err = lines.filter((l) => /error|unable|cannot|fail|not |missing|invalid|exist/i.test(l));
  return (err.length ? err : lines).slice(-3).join(' | ').slice(0, 500) || 'no output';
}

/** openssl's `nextUpdate=Dec  5 07:00:00 2026 GMT` or `notAfter=` date → Date. */
export function parseOpensslDate(text: string): Date | null {
  const t = Date.parse(text.trim().replace(/\s+/g, ' '));
  return Number.isNaN(t) ? null : new Date(t);
}
