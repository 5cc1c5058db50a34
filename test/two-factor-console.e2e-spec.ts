import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { decodeQr, oathtoolCode, twoFactorToolsAvailable, wrongCode } from './support/two-factor';
import { createUser } from './support/users';

/**
 * The console's two-factor set-up and login in Chromium, at a desktop's and a phone's size, with
 * STAFF_2FA=required: the QR code on the screen decodes (zbarimg) to the otpauth URI of the secret
 * shown beside it, and oathtool's codes confirm it and log in.
 */
const enabled = chromiumAvailable() && twoFactorToolsAvailable();
const describeBrowser = enabled ? describe : describe.skip;

const SIZES = [
  { name: 'desktop', viewport: { width: 1280, height: 900 }, isMobile: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true },
] as const;

describeBrowser('two-factor in the admin console (Chromium)', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    t = await startApp({
      STAFF_2FA: 'required',
      LOGIN_MAX_FAILURES: '1000',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
    });
    for (const size of SIZES)
      await createUser(t, { username: `staff-${size.name}`, password: 'staff-pass', isStaff: true });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function logIn(page: Page, username: string): Promise<void> {
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', 'staff-pass');
    await page.click('button[type=submit]');
  }

  it.each(SIZES)(
    'sets up two-factor with the QR code, then logs in with a code ($name)',
    async ({ name, viewport, isMobile }) => {
      const context = await browser.newContext({ viewport, isMobile, hasTouch: isMobile });
      const page = await context.newPage();
      const shot = (step: string) =>
        page.screenshot({ path: join(ARTIFACTS, `admin-2fa-${name}-${step}.png`), fullPage: true });
      const username = `staff-${name}`;
      try {
        // Required and not set up: the console opens on the Two-factor tab, the others are refused.
        await logIn(page, username);
        await page.locator('#view[data-tab="two-factor"]').waitFor({ timeout: 15_000 });
        await page.getByText('This site requires two-factor authentication for staff').waitFor();
        await shot('required');

        await page.click('#two-factor-start');
        const qr = page.locator('#two-factor-qr');
        await qr.waitFor({ timeout: 10_000 });
        await page.waitForFunction(() => {
          const img = document.querySelector<HTMLImageElement>('#two-factor-qr');
          return !!img && img.complete && img.naturalWidth > 0;
        });
        const secret = ((await page.locator('#two-factor-secret').textContent()) ?? '').replace(/\s/g, '');
        expect(secret).toMatch(/^[A-Z2-7]{32}$/);
        // What a phone's camera would see: the image as Chromium drew it.
        const decoded = await decodeQr(await qr.screenshot());
        expect(decoded).toBe(
          `otpauth://totp/live:${username}?secret=${secret}&issuer=live&algorithm=SHA1&digits=6&period=30`,
        );
        const box = await qr.boundingBox();
        expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width); // fits the screen
        await shot('enrol');

        // A wrong code is refused with a sentence; the form is usable again.
        const confirm = page.locator('#two-factor-confirm');
        await confirm.locator('input[name=code]').fill(wrongCode(secret));
        await confirm.locator('button').click();
        await page.locator('#flash.bad', { hasText: 'not right' }).waitFor({ timeout: 10_000 });
        expect(await confirm.locator('button').isEnabled()).toBe(true);
        await confirm.locator('input[name=code]').fill(oathtoolCode(secret));
        await confirm.locator('button').click();
        const codes = page.locator('#recovery-codes li');
        await codes.first().waitFor({ timeout: 10_000 });
        expect(await codes.count()).toBe(10);
        for (const text of await codes.allTextContents()) expect(text).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
        await shot('recovery-codes');
        await page.click('#codes-saved');
        await page.getByText('Two-factor authentication is on').first().waitFor();

        // The rest of the console works now.
        await page.goto(`${t.baseUrl}/admin/#users`);
        await page.locator('#view[data-tab="users"]').waitFor({ timeout: 10_000 });

        // Log out, log in again: the code is asked after the password.
        await page.click('#logout');
        await page.locator('form#login').waitFor({ timeout: 10_000 });
        await logIn(page, username);
        const codeForm = page.locator('form#login-code');
        await codeForm.waitFor({ timeout: 10_000 });
        await shot('login-code');
        await codeForm.locator('input[name=code]').fill(wrongCode(secret));
        await codeForm.locator('button').click();
        await codeForm.locator('#error', { hasText: 'not right' }).waitFor({ timeout: 10_000 });
        await codeForm.locator('input[name=code]').fill(oathtoolCode(secret, 30));
        await codeForm.locator('button').click();
        await page.locator('#view[data-tab="users"]').waitFor({ timeout: 15_000 });
        await page.goto(`${t.baseUrl}/admin/#two-factor`);
        await page.locator('#two-factor-disable').waitFor({ timeout: 10_000 });
        await shot('on');
      } finally {
        await context.close();
      }
    },
    90_000,
  );

  it('serves the two-factor script as a console asset', async () => {
    await request(t.baseUrl)
      .get('/admin/assets/two-factor.js')
      .expect(200)
      .expect('content-type', /javascript/);
  });
});
