import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './support/entry-point';

const run = promisify(execFile);

function toolAvailable(bin: string): boolean {
  try {
    execFileSync('which', [bin], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error(`CI needs ${bin} (see .ci/run)`);
    console.warn(`[live tests] deploy check skipped: ${bin} is not installed`);
    return false;
  }
}

/** Runs a command, answering its exit code and output instead of throwing. */
async function attempt(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  try {
    const { stdout, stderr } = await run(bin, args, { timeout: 60_000, maxBuffer: 1 << 20, ...options });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const UNITS = ['live.service', 'live-cert-reload.path', 'live-cert-reload.service'];

(toolAvailable('systemd-analyze') ? describe : describe.skip)(
  'deploy/systemd (systemd-analyze verify)',
  () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'live-units-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** The units as installed, with /opt/live pointing at this checkout (verify checks ExecStart exists). */
    function install(edit: (unit: string, text: string) => string = (_u, t) => t): string[] {
      return UNITS.map((unit) => {
        const text = readFileSync(join(ROOT, 'deploy', 'systemd', unit), 'utf8')
          .replaceAll('/opt/live', ROOT)
          .replaceAll('/usr/bin/node', process.execPath);
        writeFileSync(join(dir, unit), edit(unit, text));
        return join(dir, unit);
      });
    }

    it('verifies cleanly: no error and no warning', async () => {
      const result = await attempt('systemd-analyze', ['verify', '--man=no', ...install()], { cwd: dir });
      expect({ code: result.code, stderr: result.stderr.trim() }).toEqual({ code: 0, stderr: '' });
    });

    it('would catch a mistyped hardening directive (the check can fail)', async () => {
      const result = await attempt(
        'systemd-analyze',
        [
          'verify',
          '--man=no',
          ...install((u, t) => (u === 'live.service' ? t.replace('NoNewPrivileges=', 'NoNewPrivilege=') : t)),
        ],
        { cwd: dir },
      );
      expect(result.stderr).toContain("Unknown key 'NoNewPrivilege'");
    });

    it('runs live as a dedicated user with the hardening the README promises', () => {
      const unit = readFileSync(join(ROOT, 'deploy', 'systemd', 'live.service'), 'utf8');
      for (const line of [
        'User=live',
        'EnvironmentFile=/etc/live/live.env',
        'ExecStart=/usr/bin/node --no-memory-reducer /opt/live/dist/src/main.js',
        'Restart=on-failure',
        'RestartPreventExitStatus=2',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ReadWritePaths=/var/lib/live -/etc/nginx/live',
        'PrivateTmp=yes',
      ])
        expect(unit.split('\n')).toContain(line);
    });
  },
);

(toolAvailable('docker-compose') ? describe : describe.skip)(
  'compose.yaml (docker-compose config, offline)',
  () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'live-compose-'));
      writeFileSync(join(dir, 'live.env'), '');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const config = (file: string, env: NodeJS.ProcessEnv) =>
      attempt('docker-compose', ['-f', file, 'config'], {
        cwd: dir,
        env: { PATH: process.env.PATH, ...env },
      });

    it('is a valid compose file with live, PostgreSQL, Redis and OpenVPN sharing the PKI volume', async () => {
      copyFileSync(join(ROOT, 'compose.yaml'), join(dir, 'compose.yaml'));
      const result = await config('compose.yaml', { POSTGRES_PASSWORD: 'compose-test' });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      for (const service of ['live:', 'postgres:', 'redis:', 'openvpn:'])
        expect(result.stdout).toContain(`  ${service}`);
      expect(result.stdout).toContain('DATABASE_URL: postgres://live:compose-test@postgres:5432/live');
      expect(result.stdout.match(/- ovpn-data:\/etc\/openvpn/g)).toHaveLength(2);
    });

    it('refuses to start without a database password, and catches a broken file (the check can fail)', async () => {
      expect((await config('compose.yaml', {})).stderr).toContain('set POSTGRES_PASSWORD');
      const broken = readFileSync(join(ROOT, 'compose.yaml'), 'utf8').replace(
        'restart: unless-stopped',
        'restart: [1, 2]',
      );
      writeFileSync(join(dir, 'broken.yaml'), broken);
      expect((await config('broken.yaml', { POSTGRES_PASSWORD: 'x' })).code).not.toBe(0);
    });
  },
);

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  it('builds in stages, installs only production dependencies, runs as non-root with a health check', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toMatch(/^USER live$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    // Every path it copies exists in the repository (a rename would break the build unseen).
    for (const [, src] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const path of src.split(' ')) expect([path, existsSync(join(ROOT, path))]).toEqual([path, true]);
  });
});
