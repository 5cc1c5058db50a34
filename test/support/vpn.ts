import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const EASYRSA = process.env.EASYRSA_BIN ?? '/usr/share/easy-rsa/easyrsa';

/** Whether easy-rsa, openssl and openvpn are installed; in CI their absence is a failure. */
export function vpnToolsAvailable(): boolean {
  const missing: string[] = [];
  if (!existsSync(EASYRSA)) missing.push(EASYRSA);
  for (const bin of ['openssl', 'openvpn'])
    if (spawnSync(bin, ['version'], { stdio: 'ignore' }).error) missing.push(bin);
  if (missing.length === 0) return true;
  if (process.env.CI === 'true') throw new Error(`VPN tools required in CI, missing: ${missing.join(', ')}`);
  console.warn(`Skipping VPN tests, missing: ${missing.join(', ')}`);
  return false;
}

/** openssl with an argument array; returns {status, out} (stdout+stderr). */
export function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export function certSerial(certPem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-serial'], {
    input: certPem,
    encoding: 'utf8',
    timeout: 10_000,
  })
    .trim()
    .replace(/^serial=/, '');
}

export function block(profile: string, tag: string): string {
  const m = new RegExp(`<${tag}>\\n([\\s\\S]*?)\\n</${tag}>`).exec(profile);
  if (!m) throw new Error(`profile has no <${tag}> block`);
  return `${m[1]}\n`;
}
