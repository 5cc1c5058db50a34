import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

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

/** A free loopback port for a UDP (an OpenVPN server) or TCP (its management interface) listener. */
export async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const { port } = s.address();
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A running openvpn and everything it has printed so far. */
export interface OpenVpnProcess {
  child: ChildProcess;
  log: () => string;
}

const started = new Set<ChildProcess>();

/**
 * openvpn with an argument array, its output collected. Stopped by stopOpenvpns() (a suite's
 * afterAll) at the latest, or after `maxMs` when given.
 */
export function startOpenvpn(args: string[], maxMs?: number): OpenVpnProcess {
  const child = spawn('openvpn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  child.on('exit', () => started.delete(child));
  if (maxMs !== undefined) {
    const timer = setTimeout(() => void stopProcess(child), maxMs);
    timer.unref();
    child.on('exit', () => clearTimeout(timer));
  }
  return { child, log: () => out };
}

/** SIGTERM to exactly this child's PID, SIGKILL if it is still there after `graceMs`. */
export function stopProcess(child: ChildProcess | undefined, graceMs = 3000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null || !child.pid) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(
      () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'),
      graceMs,
    ).unref();
  });
}

/** Every openvpn startOpenvpn started that is still running. */
export async function stopOpenvpns(): Promise<void> {
  await Promise.all([...started].map((c) => stopProcess(c)));
}

/** How long until the output matched `pattern`, or null if it did not within `ms` (or openvpn exited). */
export async function logMatch(p: OpenVpnProcess, pattern: RegExp, ms: number): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (pattern.test(p.log())) return Date.now() - t0;
    if (p.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pattern.test(p.log()) ? Date.now() - t0 : null;
}

/** logMatch that fails with the end of the log when the pattern does not come. */
export async function waitForLog(p: OpenVpnProcess, pattern: RegExp, ms: number): Promise<void> {
  if ((await logMatch(p, pattern, ms)) === null)
    throw new Error(`no ${pattern} within ${ms} ms; log:\n${p.log().slice(-3000)}`);
}
