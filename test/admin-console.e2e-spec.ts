import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { createUser, login } from './support/users';
import { acmeToolsAvailable } from './support/pebble';
import { EASYRSA, vpnToolsAvailable } from './support/vpn';

describe('admin console (served pages)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
    await createUser(t, { username: 'root', password: 'root-pass', isStaff: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
  });
  afterAll(() => t?.close());

  it('anonymous visitors get the login form, non-staff a 403 page, staff the console', async () => {
    const anon = await request(t.baseUrl).get('/admin/').expect(200);
    expect(anon.text).toContain('<form id="login"');
    expect(anon.headers['content-security-policy']).toContain("script-src 'self'");
    const joe = await login(t, 'joe', 'joe-pass');
    const forbidden = await request(t.baseUrl).get('/admin/').set('Cookie', joe.cookie).expect(403);
    expect(forbidden.text).toContain('403 — staff only');
    const root = await login(t, 'root', 'root-pass');
    const console = await request(t.baseUrl).get('/admin/').set('Cookie', root.cookie).expect(200);
    expect(console.text).toContain('<main id="view"');
    expect(console.text).toContain('/admin/assets/admin.js');
  });

  it('serves only its own assets', async () => {
    await request(t.baseUrl)
      .get('/admin/assets/admin.js')
      .expect(200)
      .expect('content-type', /javascript/);
    await request(t.baseUrl)
      .get('/admin/assets/admin.css')
      .expect(200)
      .expect('content-type', /text\/css/);
    for (const bad of ['..%2F..%2Fpackage.json', '..%2Fapp.js', 'index.html', 'nope.js'])
      await request(t.baseUrl).get(`/admin/assets/${bad}`).expect(404);
  });
});

const enabled = chromiumAvailable() && vpnToolsAvailable() && acmeToolsAvailable();
const describeBrowser = enabled ? describe : describe.skip;

describeBrowser('admin console in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `admin-${name}.png`), fullPage: true });

  beforeAll(async () => {
    t = await startApp({
      // Cookie names other than Django's defaults: the console must use the configured ones.
      SESSION_COOKIE_NAME: 'console_session',
      CSRF_COOKIE_NAME: 'console_csrf',
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
      CERT_RENEW_CRON: 'off',
    });
    await t.app.get(VpnService).init('udp://vpn.example.org:1194', 'test');
    await createUser(t, { username: 'root', password: 'root-pass', isStaff: true, firstName: 'Ada' });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
    browser = await launchChromium();
    page = await (
      await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    ).newPage();
    page.on('dialog', (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('a non-staff login sees the 403 page', async () => {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(`${t.baseUrl}/admin/`);
    await p.fill('input[name=username]', 'joe');
    await p.fill('input[name=password]', 'joe-pass');
    await p.click('button[type=submit]');
    await p.getByText('403 — staff only').waitFor({ timeout: 10_000 });
    await p.screenshot({ path: join(ARTIFACTS, 'admin-403.png') });
    await context.close();
  }, 30_000);

  it('staff log in through the console and create a user', async () => {
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', 'root');
    await page.fill('input[name=password]', 'root-pass');
    await page.click('button[type=submit]');
    await page.locator('#view[data-tab="users"]').waitFor({ timeout: 10_000 });
    const form = page.locator('#create-user');
    await form.locator('input[name=username]').fill('newbie');
    await form.locator('input[name=password]').fill('tulip-orbit-58');
    await form.locator('input[name=firstName]').fill('New');
    await form.locator('input[name=email]').fill('newbie@example.org');
    await form.locator('button[type=submit]').click();
    await page.locator('tr[data-username="newbie"]').waitFor({ timeout: 10_000 });
    await shot('users');
    // The console went through the API: the user exists and can log in.
    const session = await login(t, 'newbie', 'tulip-orbit-58');
    const me = await request(t.baseUrl).get('/auth/me').set('Cookie', session.cookie).expect(200);
    expect(me.body).toMatchObject({ firstName: 'New', email: 'newbie@example.org' });
  }, 30_000);

  it('creates a VPN client and downloads its profile', async () => {
    await page.goto(`${t.baseUrl}/admin/#vpn`);
    await page.locator('#view[data-tab="vpn"]').waitFor({ timeout: 10_000 });
    await page.locator('#create-vpn input[name=name]').fill('laptop-ada');
    await page.locator('#create-vpn button').click();
    const row = page.locator('tr[data-client="laptop-ada"]');
    await row.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByText('Download .ovpn').click(),
    ]);
    expect(download.suggestedFilename()).toBe('laptop-ada.ovpn');
    const profile = readFileSync((await download.path())!, 'utf8');
    for (const block of ['<ca>', '<cert>', '<key>', '<tls-auth>']) expect(profile).toContain(block);
    expect(profile).toContain('remote vpn.example.org 1194');
    await shot('vpn');
  }, 60_000);

  it('triggers a certificate renewal and shows its outcome', async () => {
    await page.goto(`${t.baseUrl}/admin/#certs`);
    await page.locator('#view[data-tab="certs"]').waitFor({ timeout: 10_000 });
    await page.click('#renew');
    // No certificates yet: certbot answers quickly that nothing was due.
    await page.locator('#flash', { hasText: /Run #\d+ ended: not-due/ }).waitFor({ timeout: 60_000 });
    await page.locator('tr[data-run] .tag.not-due').first().waitFor({ timeout: 10_000 });
    await shot('certs');
  }, 90_000);

  it('shows alerts and chat rooms', async () => {
    await page.goto(`${t.baseUrl}/admin/#alerts`);
    await page.locator('#view[data-tab="alerts"]').waitFor({ timeout: 10_000 });
    await shot('alerts');
    await page.goto(`${t.baseUrl}/admin/#chat`);
    await page.locator('#view[data-tab="chat"]').waitFor({ timeout: 10_000 });
    await shot('chat');
  }, 30_000);
});
