import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { CommandRunner } from '../src/common/command-runner';
import { OpsEvent, OpsEvents } from '../src/common/ops-events';
import { DockerVpnRunner } from '../src/ops/vpn/docker-vpn.runner';
import { VpnConfig } from '../src/ops/vpn/vpn.config';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';

const FAKE = resolve(__dirname, 'fixtures', 'fake-docker');
const BASE = ['run', '--rm', '-v', 'ovpn-data-volume:/etc/openvpn'];
const IMG = 'kylemanna/openvpn';

describe.each(databaseVariants())(
  'VPN docker runner argument lists (recording DOCKER_BIN) on $name',
  (variant) => {
    let t: TestApp;
    let teardownDb: () => Promise<void>;
    let staff: LoginSession;
    let dir: string;

    beforeAll(async () => {
      const db = await variant.setup();
      teardownDb = db.teardown;
      dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
      t = await startApp(
        {
          ...db.env,
          VPN_RUNNER: 'docker',
          DOCKER_BIN: FAKE,
          OVPN_DATA: 'ovpn-data-volume',
          OVPN_IMAGE: IMG,
          VPN_CRL_CRON: 'off',
        },
        // Read by the recording docker script (a child process), not by live.
        { childEnv: { FAKE_DOCKER_DIR: dir } },
      );
      await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
      staff = await login(t, 'boss', 'boss-pass');
    });

    afterAll(async () => {
      await t?.close();
      await teardownDb?.();
      rmSync(dir, { recursive: true, force: true });
    });

    const http = () => request(t.baseUrl);
    const as = (r: request.Test) => r.set('Cookie', staff.cookie).set('X-CSRFToken', staff.csrf);
    const mode = (m: string) => writeFileSync(join(dir, 'mode'), m);
    /** The argv of every docker call since the last take(). */
    const take = (): string[][] => {
      let text = '';
      try {
        text = readFileSync(join(dir, 'calls.log'), 'utf8');
      } catch {
        return [];
      }
      rmSync(join(dir, 'calls.log'));
      return text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => l.replace(/\t$/, '').split('\t'));
    };

    it('an uninitialised volume is a 503 with the tool reason, audited as failed', async () => {
      mode('uninit');
      const res = await as(http().post('/admin/vpn/clients')).send({ name: 'alice' }).expect(503);
      expect(res.body.message).toMatch(/not initialised.*ovpn_env\.sh: No such file/);
      expect(take()).toEqual([[...BASE, IMG, 'ovpn_listclients']]);
      const audit = await as(http().get('/admin/vpn/audit')).expect(200);
      expect(audit.body[0]).toMatchObject({ action: 'create', clientName: 'alice', outcome: 'failed' });
      expect(audit.body[0].detail).toMatch(/ovpn_env\.sh/);
      mode('ok');
    });

    it('init: probe, ovpn_genconfig -u URL, ovpn_initpki nopass in batch; then refuses to overwrite', async () => {
      await t.app.get(VpnService).init('udp://vpn.example.org:1194', 'test');
      expect(take()).toEqual([
        [...BASE, IMG, 'test', '-f', '/etc/openvpn/pki/ca.crt'],
        [...BASE, IMG, 'ovpn_genconfig', '-u', 'udp://vpn.example.org:1194'],
        [...BASE, '-e', 'EASYRSA_BATCH=1', IMG, 'ovpn_initpki', 'nopass'],
      ]);
      await expect(t.app.get(VpnService).init('udp://vpn.example.org:1194', 'test')).rejects.toMatchObject({
        status: 409,
      });
      expect(take()).toEqual([[...BASE, IMG, 'test', '-f', '/etc/openvpn/pki/ca.crt']]);
    });

    it('create: ovpn_listclients then easyrsa build-client-full NAME nopass with EASYRSA_BATCH=1', async () => {
      const res = await as(http().post('/admin/vpn/clients')).send({ name: 'alice' }).expect(201);
      expect(res.body).toMatchObject({
        name: 'alice',
        status: 'VALID',
        notBefore: '2026-11-25T07:00:00.000Z',
        notAfter: '2029-02-28T07:00:00.000Z',
        createdBy: 'boss',
      });
      expect(take()).toEqual([
        [...BASE, IMG, 'ovpn_listclients'],
        [...BASE, '-e', 'EASYRSA_BATCH=1', IMG, 'easyrsa', 'build-client-full', 'alice', 'nopass'],
        [...BASE, IMG, 'ovpn_listclients'],
      ]);
    });

    it('an easy-rsa error is a 502 JSON error with easy-rsa’s reason', async () => {
      const res = await as(http().post('/admin/vpn/clients')).send({ name: 'broken' }).expect(502);
      expect(res.body).toMatchObject({ statusCode: 502 });
      expect(res.body.message).toMatch(/easyrsa failed \(exit 1\).*Request file already exists/);
      take();
    });

    it('list parses ovpn_listclients CSV', async () => {
      const res = await as(http().get('/admin/vpn/clients')).expect(200);
      expect(res.body).toEqual([
        expect.objectContaining({ name: 'alice', status: 'VALID', notAfter: '2029-02-28T07:00:00.000Z' }),
      ]);
      expect(take()).toEqual([[...BASE, IMG, 'ovpn_listclients']]);
    });

    it('profile: ovpn_getclient NAME, stdout is the profile', async () => {
      const res = await as(http().get('/admin/vpn/clients/alice/profile')).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/x-openvpn-profile/);
      expect(res.text).toContain('<key>\nKEY-alice\n</key>');
      expect(take()).toEqual([
        [...BASE, IMG, 'ovpn_listclients'],
        [...BASE, IMG, 'ovpn_getclient', 'alice'],
      ]);
    });

    it('revoke: ovpn_revokeclient NAME remove in batch; status: openssl crl -nextupdate in the image', async () => {
      await as(http().delete('/admin/vpn/clients/alice')).expect(204);
      expect(take()).toEqual([
        [...BASE, IMG, 'ovpn_listclients'],
        [...BASE, '-e', 'EASYRSA_BATCH=1', IMG, 'ovpn_revokeclient', 'alice', 'remove'],
      ]);
      const status = await as(http().get('/admin/vpn/status')).expect(200);
      expect(status.body).toMatchObject({ crlNextUpdate: '2036-11-23T07:00:00.000Z', valid: 0, revoked: 1 });
      expect(take()).toEqual(
        expect.arrayContaining([
          [...BASE, IMG, 'openssl', 'crl', '-in', '/etc/openvpn/pki/crl.pem', '-noout', '-nextupdate'],
          [...BASE, IMG, 'ovpn_listclients'],
        ]),
      );
    });

    it('renew: ovpn_revokeclient NAME remove, then easyrsa build-client-full NAME nopass, in batch', async () => {
      await as(http().post('/admin/vpn/clients')).send({ name: 'bob' }).expect(201);
      take();
      const res = await as(http().post('/admin/vpn/clients/bob/renew')).expect(201);
      expect(res.body).toMatchObject({ name: 'bob', status: 'VALID' });
      expect(take()).toEqual([
        [...BASE, IMG, 'ovpn_listclients'],
        [...BASE, '-e', 'EASYRSA_BATCH=1', IMG, 'ovpn_revokeclient', 'bob', 'remove'],
        [...BASE, '-e', 'EASYRSA_BATCH=1', IMG, 'easyrsa', 'build-client-full', 'bob', 'nopass'],
        [...BASE, IMG, 'ovpn_listclients'],
      ]);
    });

    it('certificates: the server CN from ovpn_env.sh, then openssl x509 dates of the CA and the server', async () => {
      const res = await as(http().get('/admin/vpn/certificates')).expect(200);
      expect(res.body.slice(0, 2)).toEqual([
        expect.objectContaining({
          kind: 'ca',
          name: 'CA',
          notAfter: '2029-02-28T07:00:00.000Z',
          state: 'ok',
        }),
        expect.objectContaining({
          kind: 'server',
          name: 'vpn.example.org',
          notAfter: '2029-02-28T07:00:00.000Z',
        }),
      ]);
      const x509 = (path: string) => [
        ...BASE,
        IMG,
        'openssl',
        'x509',
        '-in',
        path,
        '-noout',
        '-startdate',
        '-enddate',
      ];
      expect(take()).toEqual(
        expect.arrayContaining([
          [...BASE, IMG, 'cat', '/etc/openvpn/ovpn_env.sh'],
          x509('/etc/openvpn/pki/ca.crt'),
          x509('/etc/openvpn/pki/issued/vpn.example.org.crt'),
          [...BASE, IMG, 'ovpn_listclients'],
        ]),
      );
    });

    it('gen-crl: easyrsa gen-crl in batch, then the world-readable copy at the volume root', async () => {
      const out = await t.app.get(VpnService).maintainCrl(true);
      expect(out.regenerated).toBe(true);
      expect(take()).toEqual([
        [...BASE, IMG, 'openssl', 'crl', '-in', '/etc/openvpn/pki/crl.pem', '-noout', '-nextupdate'],
        [...BASE, '-e', 'EASYRSA_BATCH=1', IMG, 'easyrsa', 'gen-crl'],
        [...BASE, IMG, 'cp', '-f', '/etc/openvpn/pki/crl.pem', '/etc/openvpn/crl.pem'],
        [...BASE, IMG, 'chmod', '644', '/etc/openvpn/crl.pem'],
        [...BASE, IMG, 'openssl', 'crl', '-in', '/etc/openvpn/pki/crl.pem', '-noout', '-nextupdate'],
      ]);
    });

    it('"Cannot connect to the Docker daemon" is a 503 JSON error and the audit row says failed', async () => {
      mode('daemon-down');
      const res = await as(http().post('/admin/vpn/clients')).send({ name: 'bob' }).expect(503);
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect(res.body.message).toMatch(/Docker daemon is not reachable.*Cannot connect to the Docker daemon/);
      await as(http().get('/admin/vpn/clients')).expect(503);
      const audit = await as(http().get('/admin/vpn/audit')).expect(200);
      expect(audit.body[0]).toMatchObject({ action: 'create', clientName: 'bob', outcome: 'failed' });
      mode('ok');
      take();
    });

    it('a CRL still close to its next update after regeneration raises vpn.crl_expiring and /health degraded', async () => {
      writeFileSync(join(dir, 'crl-soon'), '');
      const events: OpsEvent[] = [];
      const unsubscribe = t.app.get(OpsEvents).subscribe((e) => void events.push(e));
      const out = await t.app.get(VpnService).maintainCrl();
      expect(out.regenerated).toBe(true);
      expect(out.nextUpdate!.getTime() - Date.now()).toBeLessThan(3 * 86_400_000);
      expect(events).toEqual([
        expect.objectContaining({
          event: 'vpn.crl_expiring',
          severity: 'warning',
          dedupeKey: 'vpn.crl_expiring',
        }),
      ]);
      const health = await http().get('/health').expect(200);
      expect(JSON.stringify(health.body)).toMatch(/"vpn":\{"status":"degraded"/);
      unsubscribe();
      rmSync(join(dir, 'crl-soon'));
      take();
    });

    it('a missing docker binary is reported as unavailable', async () => {
      const config = new VpnConfig({ DOCKER_BIN: join(dir, 'no-such-docker') }, dir);
      const runner = new DockerVpnRunner(config, t.app.get(CommandRunner));
      await expect(runner.listClients()).rejects.toMatchObject({ kind: 'unavailable', reason: /ENOENT/ });
    });
  },
);
