import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { UsersService } from '../src/auth/users.service';
import { VpnService } from '../src/ops/vpn/vpn.service';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { anonymousCsrf, createUser, login } from './support/users';
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
    await form.locator('input[name=confirmation]').fill('tulip-orbit-58');
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

  it('asks before revoking a VPN client', async () => {
    const row = page.locator('tr[data-client="laptop-ada"]');
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.locator('#confirm-dialog');
    expect(await dialog.locator('.question').textContent()).toBe('Revoke laptop-ada?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await row.locator('.tag.VALID').count()).toBe(1);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#flash', { hasText: 'laptop-ada revoked.' }).waitFor({ timeout: 30_000 });
    await row.locator('.tag.REVOKED').waitFor();
    await shot('vpn-revoked');
  }, 60_000);

  it('triggers a certificate renewal and shows its outcome', async () => {
    await page.goto(`${t.baseUrl}/admin/#certs`);
    await page.locator('#view[data-tab="certs"]').waitFor({ timeout: 10_000 });
    await page.click('#renew');
    // No certificates yet: the run says so, and how to obtain the first one.
    await page.locator('#no-certs', { hasText: 'tick Staging for a first try' }).waitFor({ timeout: 10_000 });
    await page
      .locator('#flash', { hasText: /Run #\d+ ended: none\. No certificates yet: obtain the first one/ })
      .waitFor({ timeout: 60_000 });
    await page.locator('tr[data-run] .tag.none').first().waitFor({ timeout: 10_000 });
    await shot('certs');
  }, 90_000);

  it('shows alerts and chat rooms', async () => {
    await page.goto(`${t.baseUrl}/admin/#alerts`);
    await page.locator('#view[data-tab="alerts"]').waitFor({ timeout: 10_000 });
    // No channel is configured here: the refusal reads as a sentence.
    await page.getByRole('button', { name: 'Send a test alert' }).click();
    await page
      .locator('#flash.bad', {
        hasText: 'Could not send a test alert: No alert channel is configured: set ALERT_WEBHOOK_URL',
      })
      .waitFor({ timeout: 10_000 });
    await shot('alerts');
    await page.goto(`${t.baseUrl}/admin/#chat`);
    await page.locator('#view[data-tab="chat"]').waitFor({ timeout: 10_000 });
    await shot('chat');
  }, 30_000);

  it('makes a service token, shows its key once, and revokes it after asking', async () => {
    await page.goto(`${t.baseUrl}/admin/#tokens`);
    await page.locator('#view[data-tab="tokens"]').waitFor({ timeout: 10_000 });
    const form = page.locator('#create-token');
    await form.locator('input[name=name]').fill('ci publisher');
    await form.locator('input[value="chat:publish"]').check();
    await form.locator('input[name=username]').fill('joe');
    await form.getByRole('button', { name: 'Make token' }).click();
    const key = (await page.locator('#new-token-key').textContent({ timeout: 10_000 })) ?? '';
    expect(key).toMatch(/^live_[A-Za-z0-9_-]{43}$/);
    // The key works, as joe, and the list never shows it.
    const me = await request(t.baseUrl).get('/auth/me').set('Authorization', `Token ${key}`).expect(200);
    expect(me.body.username).toBe('joe');
    const row = page.locator('tr[data-token]', { hasText: 'ci publisher' });
    expect(await row.textContent()).not.toContain(key);
    await shot('tokens');
    await row.getByRole('button', { name: 'Revoke token ci publisher' }).click();
    await page.locator('#confirm-dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#flash', { hasText: 'Token “ci publisher” revoked.' }).waitFor({ timeout: 10_000 });
    await request(t.baseUrl).get('/auth/me').set('Authorization', `Token ${key}`).expect(401);
    expect(await page.locator('#new-token-key').count()).toBe(0);
  }, 30_000);
});

/**
 * The Users tab in Chromium at phone and desktop sizes (issue 17): the password form with its
 * confirmation and the validators' messages, confirmations before deactivating, removing staff and
 * deleting, none of those on your own row, busy buttons, sentences, and what a staff member who is
 * not a superuser is shown. Screenshots: test-artifacts/admin-users-*.png.
 */
const describeUsersBrowser = chromiumAvailable() ? describe : describe.skip;

describeUsersBrowser('the Users tab in Chromium (password form, confirmations, phone and desktop)', () => {
  let t: TestApp;
  let browser: Browser;
  const ROOT_PASSWORD = 'console-root-pw-91';
  const CLERK_PASSWORD = 'console-clerk-pw-37';
  const SIZES = [
    ['desktop', { viewport: { width: 1280, height: 900 } }],
    [
      'phone',
      { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    ],
  ] as const;

  beforeAll(async () => {
    t = await startApp({ CERT_RENEW_CRON: 'off', VPN_CRL_CRON: 'off' });
    await createUser(t, {
      username: 'root',
      password: ROOT_PASSWORD,
      isStaff: true,
      isSuperuser: true,
      firstName: 'Ada',
    });
    await createUser(t, {
      username: 'clerk',
      password: CLERK_PASSWORD,
      isStaff: true,
      email: 'clerk@example.org',
    });
    await createUser(t, { username: 'aide', password: 'console-aide-pw-52', isStaff: true });
    for (const [size] of SIZES) {
      await createUser(t, {
        username: `joe-${size}`,
        password: 'joe-old-pass-11',
        firstName: 'Joe',
        email: `joe@${size}.example`,
      });
      await createUser(t, { username: `staffer-${size}`, password: 'staffer-pass-11', isStaff: true });
      await createUser(t, { username: `temp-${size}`, password: 'temp-pass-11' });
    }
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const users = () => t.app.get(UsersService);
  const loginStatus = async (username: string, password: string) => {
    const anon = await anonymousCsrf(t);
    const res = await request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', anon.cookie)
      .set('X-CSRFToken', anon.csrf)
      .send({ username, password });
    return res.status;
  };

  async function consoleAs(
    options: (typeof SIZES)[number][1],
    username: string,
    password: string,
  ): Promise<Page> {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.locator('#view[data-tab="users"]').waitFor({ timeout: 10_000 });
    return page;
  }
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `admin-users-${name}.png`), fullPage: true });
  const row = (page: Page, username: string) => page.locator(`tr[data-username="${username}"]`);
  const buttonsOf = async (page: Page, username: string) =>
    (await row(page, username).locator('td.actions button').allTextContents()).sort();

  describe.each(SIZES)('at %s size', (size, options) => {
    let page: Page;
    beforeAll(async () => {
      page = await consoleAs(options, 'root', ROOT_PASSWORD);
    }, 30_000);
    afterAll(() => page?.context().close());

    it('your own row has no deactivate, remove or delete; others have them; the page fits the screen', async () => {
      expect(await buttonsOf(page, 'root')).toEqual(['Change password', 'Edit']);
      expect(await row(page, 'root').getAttribute('data-own')).toBe('true');
      expect(await buttonsOf(page, `staffer-${size}`)).toEqual(
        ['Deactivate', 'Delete', 'Edit', 'Make superuser', 'Remove staff', 'Set password'].sort(),
      );
      expect(await buttonsOf(page, `joe-${size}`)).toEqual(
        ['Deactivate', 'Delete', 'Edit', 'Make staff', 'Make superuser', 'Set password'].sort(),
      );
      const layout = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        theadHeight: document.querySelector('table.cards thead')!.getBoundingClientRect().height,
      }));
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
      // Every action button of a row is on screen (phone: the row is a card with its buttons inside).
      for (const box of await Promise.all(
        (await row(page, `joe-${size}`).locator('td.actions button').all()).map((b) => b.boundingBox()),
      )) {
        expect(box!.x).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width).toBeLessThanOrEqual(layout.innerWidth);
      }
      if (size === 'phone') {
        expect(layout.theadHeight).toBeLessThanOrEqual(1); // column names move into each card
        const label = await row(page, `joe-${size}`)
          .locator('td[data-label="Email"]')
          .evaluate((td) => getComputedStyle(td, '::before').content);
        expect(label).toBe('"Email"');
      } else expect(layout.theadHeight).toBeGreaterThan(10);
      await shot(page, size);
    }, 30_000);

    it('sets a password through a form with a confirmation, showing Django’s messages and the busy state', async () => {
      const username = `joe-${size}`;
      const patches: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'PATCH') patches.push(r.url());
      });
      await row(page, username).getByRole('button', { name: 'Set password' }).click();
      const dialog = page.locator('#password-dialog');
      await dialog.waitFor({ state: 'visible' });
      expect(await dialog.locator('h2').textContent()).toBe(`Set a password for ${username}`);

      await dialog.locator('input[name=password]').fill('violet-anchor-93');
      await dialog.locator('input[name=confirmation]').fill('violet-anchor-39');
      await dialog.getByRole('button', { name: 'Set password' }).click();
      await dialog.locator('#password-errors li').first().waitFor();
      expect(await dialog.locator('#password-errors li').allTextContents()).toEqual([
        'The two password fields didn’t match.',
      ]);
      expect(patches).toEqual([]); // checked in the page, nothing sent
      await shot(page, `${size}-password-mismatch`);

      // Like the username: Django's similarity message, alone.
      await dialog.locator('input[name=password]').fill(`${username.toUpperCase()}!`);
      await dialog.locator('input[name=confirmation]').fill(`${username.toUpperCase()}!`);
      await dialog.getByRole('button', { name: 'Set password' }).click();
      await dialog.locator('#password-errors li', { hasText: 'similar' }).waitFor();
      expect(await dialog.locator('#password-errors li').allTextContents()).toEqual([
        'The password is too similar to the username.',
      ]);

      await dialog.locator('input[name=password]').fill('12345');
      await dialog.locator('input[name=confirmation]').fill('12345');
      await dialog.getByRole('button', { name: 'Set password' }).click();
      await dialog.locator('#password-errors li').nth(2).waitFor();
      expect(await dialog.locator('#password-errors li').allTextContents()).toEqual([
        'This password is too short. It must contain at least 8 characters.',
        'This password is too common.',
        'This password is entirely numeric.',
      ]);
      expect(patches).toHaveLength(2);
      await shot(page, `${size}-password-refused`);

      // Hold the next PATCH to see the busy state.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await page.route('**/admin/users/*', async (route) => {
        if (route.request().method() === 'PATCH') await held;
        await route.continue();
      });
      await dialog.locator('input[name=password]').fill('granite-sparrow-17');
      await dialog.locator('input[name=confirmation]').fill('granite-sparrow-17');
      await dialog.locator('button[type=submit]').click();
      const busy = dialog.locator('button[type=submit]');
      await expect(busy.textContent()).resolves.toBe('Setting password…');
      expect(await busy.isDisabled()).toBe(true);
      await shot(page, `${size}-password-busy`);
      release();
      await dialog.waitFor({ state: 'detached' });
      await page.unroute('**/admin/users/*');
      await page
        .locator('#flash', { hasText: `Password set for ${username}. Their sessions have ended.` })
        .waitFor();
      expect(await loginStatus(username, 'granite-sparrow-17')).toBe(200);
      expect(await loginStatus(username, 'joe-old-pass-11')).toBe(401);
    }, 60_000);

    it('asks before deactivating; Cancel changes nothing, Deactivate does', async () => {
      const username = `joe-${size}`;
      await row(page, username).getByRole('button', { name: 'Deactivate' }).click();
      const dialog = page.locator('#confirm-dialog');
      await dialog.waitFor({ state: 'visible' });
      expect(await dialog.locator('.question').textContent()).toBe(`Deactivate ${username}?`);
      await shot(page, `${size}-confirm-deactivate`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect((await users().findByUsername(username))!.isActive).toBe(true);

      await row(page, username).getByRole('button', { name: 'Deactivate' }).click();
      await page.locator('#confirm-dialog').getByRole('button', { name: 'Deactivate' }).click();
      await page.locator('#flash', { hasText: `${username} deactivated.` }).waitFor();
      expect((await users().findByUsername(username))!.isActive).toBe(false);
      await row(page, username).getByRole('button', { name: 'Activate' }).waitFor();
    }, 30_000);

    it('asks before removing staff status and before deleting', async () => {
      await row(page, `staffer-${size}`).getByRole('button', { name: 'Remove staff' }).click();
      const confirm = page.locator('#confirm-dialog');
      expect(await confirm.locator('.question').textContent()).toBe(`Remove staffer-${size}'s staff status?`);
      await confirm.getByRole('button', { name: 'Remove staff' }).click();
      await page.locator('#flash', { hasText: `staffer-${size} is no longer staff.` }).waitFor();
      expect((await users().findByUsername(`staffer-${size}`))!.isStaff).toBe(false);

      await row(page, `temp-${size}`).getByRole('button', { name: 'Delete' }).click();
      expect(await page.locator('#confirm-dialog .question').textContent()).toBe(`Delete temp-${size}?`);
      await shot(page, `${size}-confirm-delete`);
      await page.locator('#confirm-dialog').getByRole('button', { name: 'Delete' }).click();
      await page.locator('#flash', { hasText: `temp-${size} deleted.` }).waitFor();
      expect(await users().findByUsername(`temp-${size}`)).toBeNull();
      // The flash comes first, the re-rendered table right after it: wait for the row to go.
      await row(page, `temp-${size}`).waitFor({ state: 'detached', timeout: 5000 });
      expect(await row(page, `temp-${size}`).count()).toBe(0);
    }, 30_000);

    it('creating a user: a mismatch is caught in the page, a weak password is refused in a sentence', async () => {
      const form = page.locator('#create-user');
      await form.locator('input[name=username]').fill(`weak-${size}`);
      await form.locator('input[name=password]').fill('1234');
      await form.locator('input[name=confirmation]').fill('4321');
      await form.locator('button[type=submit]').click();
      await page
        .locator('#create-user-error', { hasText: 'The two password fields didn’t match.' })
        .waitFor();
      await form.locator('input[name=confirmation]').fill('1234');
      await form.locator('button[type=submit]').click();
      await page
        .locator('#flash.bad', {
          hasText: `Could not create user weak-${size}: This password is too short. It must contain at least 8 characters. This password is too common. This password is entirely numeric.`,
        })
        .waitFor();
      expect(await form.locator('input[name=username]').inputValue()).toBe(`weak-${size}`); // kept
      expect(await users().findByUsername(`weak-${size}`)).toBeNull();
      await shot(page, `${size}-create-refused`);
      await form.locator('input[name=password]').fill('lantern-quiet-55');
      await form.locator('input[name=confirmation]').fill('lantern-quiet-55');
      await form.locator('button[type=submit]').click();
      await page.locator('#flash', { hasText: `User weak-${size} created.` }).waitFor();
      await row(page, `weak-${size}`).waitFor();
    }, 30_000);

    it('a staff member who is not a superuser sees only what they may do', async () => {
      const clerk = await consoleAs(options, 'clerk', CLERK_PASSWORD);
      try {
        // Other staff accounts, a superuser's included: nothing to do there.
        expect(await buttonsOf(clerk, 'root')).toEqual([]);
        expect(await buttonsOf(clerk, 'aide')).toEqual([]);
        // An ordinary user (staffer lost staff status above): everything but granting status.
        expect(await buttonsOf(clerk, `staffer-${size}`)).toEqual([
          'Deactivate',
          'Delete',
          'Edit',
          'Set password',
        ]);
        expect(await buttonsOf(clerk, 'clerk')).toEqual(['Change password', 'Edit']);
        expect(await buttonsOf(clerk, `joe-${size}`)).toEqual(['Activate', 'Delete', 'Edit', 'Set password']);
        expect(await clerk.locator('#create-user input[name=isStaff]').count()).toBe(0);
        await shot(clerk, `${size}-not-superuser`);
      } finally {
        await clerk.context().close();
      }
    }, 30_000);
  });
});
