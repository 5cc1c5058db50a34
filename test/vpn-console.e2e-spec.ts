import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { ApiTokenStore } from '../src/auth/tokens/api-token.store';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { createUser, login, LoginSession } from './support/users';
import { EASYRSA, vpnToolsAvailable } from './support/vpn';
import { openWs } from './support/ws';

const enabled = chromiumAvailable() && vpnToolsAvailable();
const describeBrowser = enabled ? describe : describe.skip;

/** The console's VPN for people in Chromium: owners, one-time links, offboarding (screenshots in test-artifacts/). */
describeBrowser('VPN for people in the console (Chromium)', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let staff: LoginSession;
  let eveId: number;
  const shot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `vpn-${name}.png`), fullPage: true });

  beforeAll(async () => {
    t = await startApp({
      VPN_RUNNER: 'local',
      EASYRSA_BIN: EASYRSA,
      VPN_CRL_CRON: 'off',
      CERT_RENEW_CRON: 'off',
    });
    await t.app.get(VpnService).init('udp://vpn.example.org:1194', 'test');
    await createUser(t, { username: 'root', password: 'root-pass', isStaff: true, isSuperuser: true });
    const eve = await createUser(t, { username: 'eve', password: 'eve-pass', firstName: 'Eve' });
    eveId = eve.id;
    staff = await login(t, 'root', 'root-pass');
    await t.app.get(ApiTokenStore).create({
      user: eve,
      name: 'eve-sync',
      scopes: ['chat:read'],
      expiresInDays: 30,
      createdBy: null,
    });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', 'root');
    await page.fill('input[name=password]', 'root-pass');
    await page.click('button[type=submit]');
    await page.locator('#view[data-tab="users"]').waitFor({ timeout: 10_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const http = () => request(t.baseUrl);
  const as = (s: LoginSession, r: request.Test) => r.set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);

  it('creates clients owned by eve, shows the owner, and makes a one-time link that works once', async () => {
    await page.goto(`${t.baseUrl}/admin/#vpn`);
    await page.locator('#view[data-tab="vpn"]').waitFor({ timeout: 10_000 });
    for (const name of ['eve-laptop', 'eve-phone']) {
      await page.locator('#create-vpn input[name=name]').fill(name);
      await page.locator('#create-vpn input[name=user]').fill('eve');
      await page.locator('#create-vpn button').click();
      await page.locator(`tr[data-client="${name}"]`).waitFor({ timeout: 30_000 });
    }
    const row = page.locator('tr[data-client="eve-laptop"]');
    expect(await row.locator('td').nth(1).textContent()).toBe('eve');
    await row.getByRole('button', { name: 'One-time link for eve-laptop' }).click();
    const url = await page.locator('#vpn-link-url').inputValue({ timeout: 10_000 });
    expect(url).toMatch(new RegExp(`^${t.baseUrl}/vpn/links/[A-Za-z0-9_-]{43}$`));
    await shot('link');
    const first = await request(url).get('');
    expect(first.status).toBe(200);
    expect(first.text).toContain('<cert>');
    expect((await request(url).get('')).status).toBe(410);
    // Renew asks first, then re-issues (a new certificate: notAfter is shown again, the audit says renew)
    await page
      .locator('tr[data-client="eve-phone"]')
      .getByRole('button', { name: 'Renew eve-phone' })
      .click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Renew' }).click();
    await page.getByText('eve-phone renewed: download the new profile.').waitFor({ timeout: 30_000 });
    const audit = (await as(staff, http().get('/admin/vpn/audit')).expect(200)).body as Array<{
      action: string;
    }>;
    expect(audit[0]).toMatchObject({ action: 'renew', clientName: 'eve-phone', outcome: 'ok' });
  }, 90_000);

  it('offboards eve from the Users tab: the summary, a confirmation, then each item', async () => {
    const eve = await login(t, 'eve', 'eve-pass');
    const socket = await openWs(`ws://127.0.0.1:${t.port}/chat/console-offboard/?history=0`, {
      protocols: ['live.v1'],
      headers: { cookie: eve.cookie },
    });
    await page.goto(`${t.baseUrl}/admin/#users`);
    await page.locator('tr[data-username="eve"]').getByRole('link', { name: 'Offboard eve' }).click();
    await page.locator('#offboard-plan').waitFor({ timeout: 10_000 });
    const plan = await page.locator('#offboard-plan li').allTextContents();
    expect(plan).toEqual([
      'Deactivate eve: no more logins, and their open chat sockets close now.',
      'End every session they have (the Django site’s too).',
      'Revoke their 1 API token.',
      'Revoke their VPN clients eve-laptop, eve-phone and disconnect them.',
    ]);
    await shot('offboard-summary');
    await page.locator('#offboard-button').click();
    const dialog = page.locator('#confirm-dialog');
    expect(await dialog.locator('.question').textContent()).toBe('Offboard eve?');
    await shot('offboard-confirm');
    // Cancel does nothing
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await as(staff, http().get(`/admin/users/${eveId}`)).expect(200)).body.isActive).toBe(true);
    await page.locator('#offboard-button').click();
    await dialog.getByRole('button', { name: 'Offboard' }).click();
    await page.locator('#offboard-result tr[data-step="vpn:eve-phone"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#flash').textContent()).toBe('eve offboarded.');
    const steps = await page
      .locator('#offboard-result tr[data-step]')
      .evaluateAll((rows) =>
        rows.map((r) => `${r.getAttribute('data-step')} ${r.querySelector('td:nth-child(3)')?.textContent}`),
      );
    expect(steps).toEqual([
      'deactivate done',
      'sessions done',
      expect.stringMatching(/^tokens:\d+ done$/),
      'vpn:eve-laptop done',
      'vpn:eve-phone done',
    ]);
    await shot('offboard-done');
    // checked through the API, one by one
    expect((await as(staff, http().get(`/admin/users/${eveId}`)).expect(200)).body.isActive).toBe(false);
    await as(eve, http().get('/auth/me')).expect(401);
    expect(await socket.closed).toEqual({ code: 4001, reason: 'session ended' });
    const clients = (await as(staff, http().get(`/admin/users/${eveId}/vpn-clients`)).expect(200)).body;
    expect(clients.map((c: { status: string }) => c.status)).toEqual(['REVOKED', 'REVOKED']);
    expect(await t.app.get(ApiTokenStore).list(eveId)).toEqual([]);
  }, 90_000);
});
