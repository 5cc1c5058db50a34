import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './instances';

/** Whether certbot, pebble and pebble-challtestsrv are installed (CI: required). */
export function acmeToolsAvailable(): boolean {
  const missing = ['certbot', 'pebble', 'pebble-challtestsrv', 'openssl'].filter((bin) => {
    try {
      execFileSync('which', [bin], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  if (process.env.CI === 'true') throw new Error(`CI needs ${missing.join(', ')} (Debian certbot, pebble)`);
  console.warn(`[live tests] certificate suite skipped: missing ${missing.join(', ')}`);
  return false;
}

/**
 * Let's Encrypt's test ACME server on loopback: a throwaway CA and TLS certificate made with
 * openssl, pebble-challtestsrv as its DNS (every name → 127.0.0.1) and pebble validating http-01
 * on `httpPort` (where live listens). One per suite; stop() kills both by PID.
 */
export interface Pebble {
  directoryUrl: string;
  caBundle: string;
  /** The root Pebble issues certificates under (PEM, from its management interface): what a client trusts. */
  issuingRoot(): Promise<string>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

function kill(proc: ChildProcess | null): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    proc.once('exit', () => done());
    proc.kill('SIGKILL');
  });
}

export async function startPebble(httpPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'live-pebble-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=live test ACME root',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  ssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'key.pem',
    '-out',
    'req.csr',
  );
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  );
  ssl(
    'x509',
    '-req',
    '-in',
    'req.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'cert.pem',
  );
  const [acme, mgmt, tls, dns, ctsMgmt] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acme}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort: tls,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const challtestsrv = spawn(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${ctsMgmt}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    { stdio: 'ignore' },
  );
  let pebble: ChildProcess | null = spawn(
    'pebble',
    ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dns}`],
    {
      stdio: 'ignore',
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    },
  );
  const directoryUrl = `https://127.0.0.1:${acme}/dir`;
  const caBundle = join(dir, 'ca.pem');
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${acme}`, '-CAfile', caBundle], {
        input: '',
        stdio: ['pipe', 'ignore', 'ignore'],
        timeout: 3000,
      });
      break;
    } catch {
      if (Date.now() > deadline) {
        await kill(pebble);
        await kill(challtestsrv);
        throw new Error('pebble did not come up');
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    directoryUrl,
    caBundle,
    issuingRoot: () =>
      new Promise<string>((resolve, reject) => {
        const req = httpsGet(
          `https://127.0.0.1:${mgmt}/roots/0`,
          { ca: readFileSync(caBundle), timeout: 10_000 },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () =>
              res.statusCode === 200
                ? resolve(body)
                : reject(new Error(`pebble /roots/0: ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
      }),
    async stop() {
      await kill(pebble);
      pebble = null;
    },
    async dispose() {
      await kill(pebble);
      await kill(challtestsrv);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
