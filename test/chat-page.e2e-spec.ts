import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { PAGE_CSP } from '../src/common/public-files';
import { ChatService } from '../src/chat/chat.service';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { createUser, login } from './support/users';

describe('the chat page (served files)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t?.close());

  it('GET / is the page, with its CSP, and its script and stylesheet are served', async () => {
    const page = await request(t.baseUrl).get('/').expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(page.text).toContain('<script type="module" src="/app.js"></script>');
    expect(page.text).not.toMatch(/https?:\/\//); // nothing from a CDN
    const js = await request(t.baseUrl).get('/app.js').expect(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.text).toContain("'live.v1'");
    await request(t.baseUrl)
      .get('/style.css')
      .expect(200)
      .expect('content-type', /text\/css/);
  });

  it('unknown paths are still JSON 404s', async () => {
    const res = await request(t.baseUrl).get('/no/such/thing').expect(404);
    expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});

const describeBrowser = chromiumAvailable() ? describe : describe.skip;

describeBrowser('the chat page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let contexts: BrowserContext[] = [];
  let alice: Page;
  let anon: Page;
  const room = 'garden';

  beforeAll(async () => {
    // Cookie names other than Django's defaults: the page must use the configured ones.
    t = await startApp({ SESSION_COOKIE_NAME: 'chat_session', CSRF_COOKIE_NAME: 'chat_csrf' });
    await createUser(t, {
      username: 'alice',
      password: 'alice-password',
      firstName: 'Alice',
      lastName: 'Liddell',
    });
    browser = await launchChromium();
    const laptop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    contexts = [laptop, phone];
    alice = await laptop.newPage();
    anon = await phone.newPage();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await t?.close();
  });

  const lines = (page: Page) => page.locator('#messages li:not(.system)');

  it('a logged-in user and an anonymous one see each other’s messages with the right names', async () => {
    await alice.goto(`${t.baseUrl}/#${room}`);
    await alice.fill('#username', 'alice');
    await alice.fill('#password', 'alice-password');
    await alice.click('#login-form button');
    await alice.locator('#who-name').filter({ hasText: 'Alice Liddell' }).waitFor({ timeout: 10_000 });
    await alice
      .locator('#messages .system', { hasText: 'Bienvenue Alice Liddell !' })
      .waitFor({ timeout: 10_000 });

    await anon.goto(`${t.baseUrl}/#${room}`);
    await anon
      .locator('#messages .system', { hasText: 'Bienvenue Anonymous troll !' })
      .waitFor({ timeout: 10_000 });
    await alice.locator('#presence li', { hasText: 'Anonymous troll' }).waitFor({ timeout: 10_000 });
    await anon.locator('#presence li', { hasText: 'Alice Liddell' }).waitFor({ timeout: 10_000 });

    await alice.fill('#text', 'Hello from Alice <b>not bold</b>');
    await alice.press('#text', 'Enter');
    await anon.fill('#text', 'Hi Alice, troll here');
    await anon.click('#send-form button');

    for (const page of [alice, anon]) {
      await lines(page).nth(1).waitFor({ timeout: 10_000 });
      const texts = await lines(page).allInnerTexts();
      expect(texts[0]).toMatch(/^Alice Liddell\s*Hello from Alice <b>not bold<\/b>/);
      expect(texts[1]).toMatch(/^Anonymous troll\s*Hi Alice, troll here/);
      // Text is text: the markup was not interpreted.
      expect(await page.locator('#messages b').count()).toBe(0);
    }
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-page-laptop.png'), fullPage: true });
    await anon.screenshot({ path: join(ARTIFACTS, 'chat-page-phone.png'), fullPage: true });
  }, 60_000);

  it('after a dropped connection the page reconnects with ?since= and shows what it missed exactly once', async () => {
    // Cut Alice's socket on the server side, as a network drop would.
    for (const client of t.app.get(ChatService).clientsIn(room))
      if (client.name === 'Alice Liddell') client.ws.terminate();
    await alice.locator('#status[data-state="closed"]').waitFor({ timeout: 10_000 });
    await anon.fill('#text', 'while you were away');
    await anon.press('#text', 'Enter');
    await alice.locator('#messages .system', { hasText: 'Reconnected.' }).waitFor({ timeout: 15_000 });
    await lines(alice).nth(2).waitFor({ timeout: 10_000 });
    await alice.waitForTimeout(300);
    const texts = await lines(alice).allInnerTexts();
    expect(texts).toHaveLength(3);
    expect(texts[2]).toMatch(/^Anonymous troll\s*while you were away/);
    await alice.screenshot({ path: join(ARTIFACTS, 'chat-page-reconnected.png') });
  }, 60_000);

  it('a message a program posted under a bot name is marked as one on the page', async () => {
    await createUser(t, { username: 'ops', password: 'ops-password', isStaff: true });
    const ops = await login(t, 'ops', 'ops-password');
    await request(t.baseUrl)
      .post(`/chat/rooms/${room}/messages`)
      .set('Cookie', ops.cookie)
      .set('X-CSRFToken', ops.csrf)
      .send({ text: 'deployed v2', name: 'Alice Liddell' })
      .expect(201);
    for (const page of [alice, anon]) {
      const line = page.locator('#messages li.bot', { hasText: 'deployed v2' });
      await line.waitFor({ timeout: 10_000 });
      // The name is the one the program chose (here a user's own): the badge says who really spoke.
      expect(await line.locator('.name').innerText()).toBe('Alice Liddell');
      expect(await line.locator('.badge').innerText()).toMatch(/^bot$/i);
      expect(await line.evaluate((li) => li.classList.contains('mine'))).toBe(false);
      // A person's messages carry no badge.
      expect(await page.locator('#messages li:not(.bot) .badge').count()).toBe(0);
    }
  }, 60_000);
});
