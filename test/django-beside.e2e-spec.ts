import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { ROOT } from './support/entry-point';
import { freePort } from './support/instances';
import { cookieValue } from './support/users';
import { openWs } from './support/ws';
import { readmeBlock } from './support/readme';

/**
 * The README's "Running beside a Django site", as a person would follow it: Django's `migrate`,
 * live started on the same database with the same SECRET_KEY, and nginx with the README's two
 * blocks (taken from README.md itself, only the upstream ports changed) in front of a real Django
 * server and live. A visitor logs in on the Django site and chats through the same origin.
 */

const PYTHON = '/usr/bin/python3'; // Debian's python3-django is importable only by it
const SITE = join(ROOT, 'test/fixtures/django/site');
const SECRET_KEY = 'django-beside-readme-secret-key-0123456789abcdef';

function run(file: string, args: string[], env: Record<string, string>, cwd = SITE): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** Waits until `url` answers at all (any status). */
async function answering(url: string, what: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}): ${log()}`);
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not answer within 30 s: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

for (const [tool, args] of [
  ['nginx', ['-v']],
  [PYTHON, ['-c', 'import django']],
] as const) {
  try {
    execFileSync(tool, [...args], { stdio: 'ignore', timeout: 20_000 });
  } catch (err) {
    throw new Error(`this suite needs ${tool} (Debian's nginx, python3-django): ${String(err)}`);
  }
}

describe('README: running beside a Django site (real Django, live and nginx)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'live-beside-'));
  const djangoEnv = { DJ_DB_ENGINE: 'sqlite', DJ_DB_NAME: join(dir, 'site.sqlite3'), SECRET_KEY };
  const children: ChildProcess[] = [];
  let live: TestApp;
  let site: string; // nginx: http://127.0.0.1:<port>

  beforeAll(async () => {
    // 1. Django's migrate, as the README says it, in the site's folder.
    const migrate = readmeBlock('django-migrate');
    expect(migrate).toBe('python manage.py migrate');
    await run(PYTHON, migrate.split(' ').slice(1), djangoEnv);
    await run(
      PYTHON,
      ['bridge_tool.py', 'create-user', 'alice', 'alice-site-pw', 'Alice', 'Liddell'],
      djangoEnv,
    );

    // 2. live with the README's variables, on the same database and secret.
    const start = readmeBlock('django-start');
    const vars = Object.fromEntries(
      [...start.matchAll(/([A-Z_]+)=("[^"]*"|\S+)/g)].map(([, name, value]) => [name, value]),
    );
    expect(Object.keys(vars)).toEqual(['DATABASE_URL', 'SECRET_KEY', 'ALLOWED_HOSTS', 'PORT']);
    expect(start).toMatch(/ npm start$/);
    live = await startApp({
      DATABASE_URL: `sqlite:${djangoEnv.DJ_DB_NAME}`,
      SECRET_KEY,
      ALLOWED_HOSTS: '127.0.0.1',
      TRUST_PROXY: 'true', // "Set TRUST_PROXY=true on live behind nginx"
      PASSWORD_ITERATIONS: '1000',
    });

    // The Django site itself, served by Django's own server.
    const djangoPort = await freePort();
    let djangoLog = '';
    const django = spawn(PYTHON, ['manage.py', 'runserver', `127.0.0.1:${djangoPort}`, '--noreload'], {
      cwd: SITE,
      env: { ...process.env, ...djangoEnv, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(django);
    django.stdout?.on('data', (d: Buffer) => (djangoLog += d.toString()));
    django.stderr?.on('data', (d: Buffer) => (djangoLog += d.toString()));
    await answering(`http://127.0.0.1:${djangoPort}/whoami/`, 'Django runserver', django, () => djangoLog);

    // 3. nginx with the README's blocks; the upstreams are where the test runs them.
    const nginxPort = await freePort();
    const nginxDir = join(dir, 'nginx');
    mkdirSync(join(nginxDir, 'logs'), { recursive: true });
    const server = readmeBlock('django-nginx-server')
      .replaceAll('http://127.0.0.1:8001', `http://127.0.0.1:${live.port}`)
      .replaceAll('http://127.0.0.1:8000', `http://127.0.0.1:${djangoPort}`);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((kind) => `  ${kind}_temp_path ${join(nginxDir, kind)};`)
      .join('\n');
    writeFileSync(
      join(nginxDir, 'nginx.conf'),
      [
        `daemon off;`,
        `pid ${join(nginxDir, 'nginx.pid')};`,
        `error_log ${join(nginxDir, 'logs', 'error.log')} warn;`,
        `events { worker_connections 64; }`,
        `http {`,
        `  access_log off;`,
        temp,
        readmeBlock('django-nginx-http'),
        `  server {`,
        `    listen 127.0.0.1:${nginxPort};`,
        server,
        `  }`,
        `}`,
      ].join('\n'),
    );
    let nginxLog = '';
    const nginx = spawn(
      'nginx',
      ['-p', nginxDir, '-e', join(nginxDir, 'logs', 'error.log'), '-c', join(nginxDir, 'nginx.conf')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(nginx);
    nginx.stderr?.on('data', (d: Buffer) => (nginxLog += d.toString()));
    site = `http://127.0.0.1:${nginxPort}`;
    await answering(`${site}/whoami/`, 'nginx', nginx, () => nginxLog);
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await live?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a login on the Django site opens a chat socket as that user and is live's login too, through one origin", async () => {
    // The Django site's own login form: its csrftoken cookie and the form's token.
    const page = await request(site).get('/form/').expect(200);
    const csrf = cookieValue(page.headers['set-cookie'], 'csrftoken');
    const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.text)?.[1];
    expect(token).toBeDefined();
    const loggedIn = await request(site)
      .post('/login/')
      .set('Cookie', `csrftoken=${csrf}`)
      .type('form')
      .send({ username: 'alice', password: 'alice-site-pw', csrfmiddlewaretoken: token })
      .expect(200);
    expect(loggedIn.body).toMatchObject({ authenticated: true, username: 'alice' });
    const sessionid = cookieValue(loggedIn.headers['set-cookie'], 'sessionid');
    const cookies = `sessionid=${sessionid}; csrftoken=${csrf}`;

    // /chat/ goes to live: the socket is Alice's.
    const ws = await openWs(`${site.replace('http', 'ws')}/chat/lobby/`, {
      headers: { Cookie: cookies, Origin: site },
    });
    expect(await ws.next()).toBe('Bienvenue Alice Liddell !');
    ws.send('hello from the site');
    expect(await ws.next()).toBe('<Alice Liddell> hello from the site');
    // /auth/ goes to live too, the rest to Django: both see Alice.
    expect((await request(site).get('/auth/me').set('Cookie', cookies).expect(200)).body.username).toBe(
      'alice',
    );
    expect((await request(site).get('/whoami/').set('Cookie', cookies).expect(200)).body.username).toBe(
      'alice',
    );

    // A logout through live, with the token of the page Django served, logs her out of the site.
    await request(site)
      .post('/auth/logout')
      .set('Cookie', cookies)
      .set('X-CSRFToken', token as string)
      .expect(204);
    expect((await request(site).get('/whoami/').set('Cookie', cookies).expect(200)).body.authenticated).toBe(
      false,
    );
    await ws.close();
  });

  it("routes /chat/ and /auth/ to live and nothing else: the rest is Django's", async () => {
    const rooms = await request(site).get('/chat/rooms').expect(200);
    expect(Array.isArray(rooms.body)).toBe(true); // live's JSON list of rooms
    const me = await request(site).get('/auth/me').expect(401);
    expect(me.body).toMatchObject({ statusCode: 401 });
    // live would answer /health with 200 and JSON; on this site the path is Django's (no such view).
    const health = await request(site).get('/health');
    expect(health.status).toBe(404);
    expect(health.headers['content-type']).toMatch(/text\/html/);
  });
});
