import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { entryPoint, ROOT } from './support/entry-point';
import { freePort } from './support/instances';
import { Live, startLive, stop } from './support/live-process';
import { manage } from './support/manage';
import { acmeToolsAvailable, Pebble, startPebble } from './support/pebble';
import { cookieValue } from './support/users';

/**
 * The deployment the README describes, run: Debian's nginx with deploy/nginx/live.conf (ports and
 * paths substituted), live behind it (TRUST_PROXY=true) as a real process, and Pebble validating
 * http-01 on nginx's port 80. live obtains a certificate through nginx, deploy/nginx/deploy-hook.sh
 * copies it where nginx reads it and reloads nginx, and a client trusting only Pebble's root then
 * talks HTTPS and WSS through nginx.
 */
function nginxAvailable(): boolean {
  try {
    execFileSync('which', ['nginx'], {
      stdio: 'ignore',
      env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
    });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('CI needs nginx (see .ci/run)');
    console.warn('[live tests] nginx deployment suite skipped: nginx is not installed');
    return false;
  }
}

const NAME = 'chat.live-test.example';
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function collect(res: IncomingMessage, resolve: (a: Answer) => void): void {
  let body = '';
  res.setEncoding('utf8').on('data', (c: string) => (body += c));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
}

const enabled = acmeToolsAvailable() && nginxAvailable();

(enabled ? describe : describe.skip)('live behind nginx with a certificate it obtained (Pebble)', () => {
  let dir: string;
  let pebble: Pebble;
  let live: Live;
  let nginx: ChildProcess;
  let p80: number;
  let p443: number;
  let root = '';
  const nginxArgs = () => ['-p', join(dir, 'nginx') + '/', '-c', join(dir, 'nginx', 'nginx.conf')];

  /** An HTTPS request to nginx as a browser on `NAME` would make it, trusting only `ca`. */
  function https(
    method: string,
    path: string,
    options: { ca?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: p443,
          method,
          path,
          servername: NAME,
          ca: options.ca ?? root,
          localAddress: options.localAddress,
          headers: { host: `${NAME}:${p443}`, ...options.headers },
          timeout: 10_000,
          agent: false,
        },
        (res) => collect(res, resolve),
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  function http(port: number, path: string, host = NAME): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, timeout: 10_000 }, (res) =>
        collect(res, resolve),
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** The certificate nginx serves for NAME (its PEM-less DER fingerprint and names). */
  function servedCertificate(): Promise<{ fingerprint: string; subjectaltname?: string }> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: p443, servername: NAME, rejectUnauthorized: false },
        () => {
          const cert = socket.getPeerCertificate();
          socket.end();
          resolve({ fingerprint: cert.fingerprint256, subjectaltname: cert.subjectaltname });
        },
      );
      socket.on('error', reject);
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'live-nginx-'));
    chmodSync(dir, 0o755);
    [p80, p443] = [await freePort(), await freePort()];
    pebble = await startPebble(p80);
    root = await pebble.issuingRoot();

    // The placeholder the README says to make before the first certificate.
    const tls = join(dir, 'tls');
    mkdirSync(tls);
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '7',
        '-subj',
        '/CN=placeholder',
        '-keyout',
        join(tls, 'privkey.pem'),
        '-out',
        join(tls, 'fullchain.pem'),
      ],
      { stdio: 'ignore' },
    );

    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    const liveEnv = {
      PATH,
      TRUST_PROXY: 'true',
      ALLOWED_HOSTS: `${NAME},127.0.0.1,localhost`,
      LOG_FORMAT: 'json',
      PASSWORD_ITERATIONS: '1000',
      LOGIN_MAX_FAILURES: '3',
      CERTBOT_SERVER: pebble.directoryUrl,
      CERTBOT_DEPLOY_HOOK: join(ROOT, 'deploy', 'nginx', 'deploy-hook.sh'),
      ACME_HOOK_COMMAND: [process.execPath, ...entryPoint('ops/certs/acme-hook.main')].join(' '),
      CERT_RENEW_CRON: 'off',
      VPN_CRL_CRON: 'off',
      // What certbot and the deploy hook read (inherited by live's children).
      REQUESTS_CA_BUNDLE: pebble.caBundle,
      LIVE_NGINX_TLS_DIR: tls,
      LIVE_NGINX_ARGS: nginxArgs().join(' '),
    };
    live = await startLive(dataDir, liveEnv);
    const livePort = new URL(live.baseUrl).port;
    const made = await manage(['createsuperuser', '--username', 'ops', '--email', 'ops@example.org'], {
      DATA_DIR: dataDir,
      PASSWORD_ITERATIONS: '1000',
      LIVE_PASSWORD: 'ops-password-1',
    });
    expect(made.code).toBe(0);

    // nginx with the repository's file, ports and paths made this test's.
    const conf = readFileSync(join(ROOT, 'deploy', 'nginx', 'live.conf'), 'utf8')
      .split('\n')
      .filter((line) => !line.includes('listen [::]'))
      .join('\n')
      .replace('listen 80;', `listen 127.0.0.1:${p80};`)
      .replace('listen 443 ssl;', `listen 127.0.0.1:${p443} ssl;`)
      .replace('server 127.0.0.1:8000;', `server 127.0.0.1:${livePort};`)
      .replaceAll('chat.example.org', NAME)
      .replaceAll('/etc/nginx/live/', `${tls}/`);
    const n = join(dir, 'nginx');
    for (const sub of ['', 'tmp', 'logs']) mkdirSync(join(n, sub), { recursive: true, mode: 0o777 });
    chmodSync(join(n, 'tmp'), 0o777);
    writeFileSync(join(n, 'live.conf'), conf);
    writeFileSync(
      join(n, 'nginx.conf'),
      [
        `pid ${n}/nginx.pid;`,
        `error_log ${n}/logs/error.log warn;`,
        'worker_processes 1;',
        'events { worker_connections 256; }',
        'http {',
        `  access_log ${n}/logs/access.log;`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${n}/tmp/${k};`),
        `  include ${n}/live.conf;`,
        '}',
      ].join('\n'),
    );
    execFileSync('nginx', [...nginxArgs(), '-t', '-q'], { env: { PATH } });
    nginx = spawn('nginx', [...nginxArgs(), '-g', 'daemon off;'], { env: { PATH }, stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const up = await http(p80, '/').then(
        () => true,
        () => false,
      );
      if (up) break;
      if (i > 100) throw new Error('nginx did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGQUIT');
      await exited;
    }
    if (live) await stop(live);
    await pebble?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** A staff session straight on live's own port (as an operator's first step may be). */
  async function staffOnLive(): Promise<{ cookie: string; csrf: string }> {
    const csrf = await fetch(`${live.baseUrl}/auth/csrf`);
    const token = (await csrf.json()) as { csrfToken: string };
    const res = await fetch(`${live.baseUrl}/auth/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: `csrftoken=${token.csrfToken}`,
        'x-csrftoken': token.csrfToken,
      },
      body: JSON.stringify({ username: 'ops', password: 'ops-password-1' }),
    });
    expect(res.status).toBe(200);
    const session = cookieValue(res.headers.getSetCookie(), 'sessionid');
    const rotated = cookieValue(res.headers.getSetCookie(), 'csrftoken');
    return { cookie: `sessionid=${session}; csrftoken=${rotated}`, csrf: rotated as string };
  }

  it('port 80 sends browsers to HTTPS and lets the ACME check through to live', async () => {
    const page = await http(p80, '/chat/lobby/');
    expect(page.status).toBe(301);
    expect(page.headers.location).toBe(`https://${NAME}/chat/lobby/`);
    // An unknown token: answered by live (its JSON 404), not by nginx's redirect.
    const acme = await http(p80, '/.well-known/acme-challenge/no-such-token-123');
    expect(acme.status).toBe(404);
    expect(JSON.parse(acme.body)).toMatchObject({ statusCode: 404 });
  });

  it('before the first certificate nginx serves the placeholder, which a client trusting Pebble refuses', async () => {
    await expect(https('GET', '/health')).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });

  it('live obtains a certificate through nginx’s port 80; the deploy hook copies it and reloads nginx', async () => {
    const placeholder = await servedCertificate();
    const staff = await staffOnLive();
    const started = await fetch(`${live.baseUrl}/admin/certs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: staff.cookie, 'x-csrftoken': staff.csrf },
      body: JSON.stringify({ domains: [NAME] }),
    });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: number };
    let run: { outcome: string; reason: string | null; outputTail?: string } = {
      outcome: 'running',
      reason: null,
    };
    for (let i = 0; i < 360 && run.outcome === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      run = (await (
        await fetch(`${live.baseUrl}/admin/certs/runs/${runId}`, { headers: { cookie: staff.cookie } })
      ).json()) as typeof run;
    }
    expect({ outcome: run.outcome, reason: run.reason }).toEqual({ outcome: 'obtained', reason: null });
    // The hook replaced the placeholder and reloaded nginx: the new certificate is served.
    let served = placeholder;
    for (let i = 0; i < 50 && served.fingerprint === placeholder.fingerprint; i++) {
      await new Promise((r) => setTimeout(r, 100));
      served = await servedCertificate();
    }
    expect(served.fingerprint).not.toBe(placeholder.fingerprint);
    expect(served.subjectaltname).toContain(`DNS:${NAME}`);
    const health = await https('GET', '/health');
    expect(health.status).toBe(200);
  }, 120_000);

  it('HTTPS and WSS through nginx: Secure cookies, a login, the greeting and a broadcast', async () => {
    const staff = await staffOnLive();
    const created = await fetch(`${live.baseUrl}/admin/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: staff.cookie, 'x-csrftoken': staff.csrf },
      body: JSON.stringify({
        username: 'ada',
        password: 'analytical-engine-1843',
        firstName: 'Ada',
        lastName: 'Lovelace',
      }),
    });
    expect(created.status).toBe(201);
    const origin = `https://${NAME}:${p443}`;
    const csrf = await https('GET', '/auth/csrf');
    const csrfCookie = (csrf.headers['set-cookie'] ?? []).find((c) => c.startsWith('csrftoken='));
    expect(csrfCookie).toMatch(/; Secure/);
    const token = JSON.parse(csrf.body).csrfToken as string;
    const loggedIn = await https('POST', '/auth/login', {
      headers: {
        'content-type': 'application/json',
        cookie: `csrftoken=${token}`,
        'x-csrftoken': token,
        origin,
        referer: `${origin}/`,
      },
      body: JSON.stringify({ username: 'ada', password: 'analytical-engine-1843' }),
    });
    expect(loggedIn.status).toBe(200);
    const sessionCookie = (loggedIn.headers['set-cookie'] ?? []).find((c) => c.startsWith('sessionid='));
    expect(sessionCookie).toMatch(/; HttpOnly/);
    expect(sessionCookie).toMatch(/; Secure/);
    const session = cookieValue(loggedIn.headers['set-cookie'], 'sessionid');

    const open = (cookie?: string) =>
      new Promise<{ ws: WebSocket; frames: string[] }>((resolve, reject) => {
        const ws = new WebSocket(`wss://127.0.0.1:${p443}/chat/lobby/`, {
          ca: root,
          servername: NAME,
          headers: { host: `${NAME}:${p443}`, origin, ...(cookie ? { cookie } : {}) },
        } as WebSocket.ClientOptions);
        const frames: string[] = [];
        ws.on('message', (d: Buffer) => frames.push(d.toString('utf8')));
        ws.once('open', () => resolve({ ws, frames }));
        ws.once('error', reject);
      });
    const until = async (frames: string[], text: string) => {
      for (let i = 0; i < 100 && !frames.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      expect(frames).toContain(text);
    };
    const ada = await open(`sessionid=${session}`);
    const anon = await open();
    await until(ada.frames, 'Bienvenue Ada Lovelace !');
    await until(anon.frames, 'Bienvenue Anonymous troll !');
    ada.ws.send('through nginx');
    await until(anon.frames, '<Ada Lovelace> through nginx');
    await until(ada.frames, '<Ada Lovelace> through nginx');
    ada.ws.close();
    anon.ws.close();
  }, 60_000);

  it('live sees the real client address (logs, lockouts), never a spoofed X-Forwarded-For', async () => {
    const statuses: number[] = [];
    const origin = `https://${NAME}:${p443}`;
    for (let i = 0; i < 4; i++) {
      const csrf = await https('GET', '/auth/csrf', { localAddress: '127.0.0.2' });
      const token = JSON.parse(csrf.body).csrfToken as string;
      const res = await https('POST', '/auth/login', {
        localAddress: '127.0.0.2',
        headers: {
          'content-type': 'application/json',
          cookie: `csrftoken=${token}`,
          'x-csrftoken': token,
          origin,
          'x-forwarded-for': '6.6.6.6',
        },
        body: JSON.stringify({ username: 'ada', password: 'wrong-password' }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const staff = await staffOnLive();
    const lockouts = (await (
      await fetch(`${live.baseUrl}/admin/lockouts`, { headers: { cookie: staff.cookie } })
    ).json()) as {
      lockouts: { username: string | null; address: string }[];
    };
    expect(lockouts.lockouts.map((l) => `${l.username}@${l.address}`)).toContain('ada@127.0.0.2');
    expect(JSON.stringify(lockouts)).not.toContain('6.6.6.6');
    // The access log: each of those requests under the client's address, not nginx's or the spoofed one.
    const logins = live.stdout
      .map(
        (line) =>
          JSON.parse(line) as { event?: string; path?: string; method?: string; remoteAddress?: string },
      )
      .filter((l) => l.event === 'http_request' && l.method === 'POST' && l.path === '/auth/login');
    const addresses = new Set(logins.map((l) => l.remoteAddress));
    expect(addresses.has('127.0.0.2')).toBe(true);
    expect(addresses.has('6.6.6.6')).toBe(false);
  }, 60_000);
});
