import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { createUser, login } from './support/users';

/**
 * Issue 18 on the chat page, in Chromium: a moderator's menu on each message (delete, mute, kick,
 * ban), a deleted message disappearing, a muted user seeing why, a refused room saying why.
 * Screenshots go to test-artifacts/.
 */
const describeBrowser = chromiumAvailable() ? describe : describe.skip;

describeBrowser('room rules and moderation on the chat page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let contexts: BrowserContext[] = [];
  let boss: Page;
  let bob: Page;
  let anon: Page;
  let bobId: number;
  const room = 'agora';

  const lines = (page: Page) => page.locator('#messages li:not(.system)');
  const line = (page: Page, text: string) => lines(page).filter({ hasText: text });

  async function logIn(page: Page, username: string, password: string, name: string) {
    await page.goto(`${t.baseUrl}/#${room}`);
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('#login-form button');
    await page.locator('#messages .system', { hasText: `Bienvenue ${name} !` }).waitFor({ timeout: 10_000 });
  }

  async function say(page: Page, text: string) {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
  }

  beforeAll(async () => {
    t = await startApp({ SESSION_COOKIE_NAME: 'chat_session', CSRF_COOKIE_NAME: 'chat_csrf' });
    await createUser(t, {
      username: 'boss',
      password: 'boss-password',
      isStaff: true,
      firstName: 'Big',
      lastName: 'Boss',
    });
    bobId = (await createUser(t, { username: 'bob', password: 'bob-password', firstName: 'Bob' })).id;
    browser = await launchChromium();
    const laptop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const other = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    contexts = [laptop, other, phone];
    boss = await laptop.newPage();
    bob = await other.newPage();
    anon = await phone.newPage();
    await logIn(boss, 'boss', 'boss-password', 'Big Boss');
    await logIn(bob, 'bob', 'bob-password', 'Bob');
  }, 90_000);

  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await t?.close();
  });

  it('a moderator gets a menu on each message, others do not; Delete removes the message on every page', async () => {
    await say(bob, 'something regrettable');
    await say(bob, 'something fine');
    await line(boss, 'something fine').waitFor({ timeout: 10_000 });
    await line(bob, 'something fine').waitFor({ timeout: 10_000 });
    // The menu button is there for the moderator only.
    await expectVisible(line(boss, 'something regrettable').locator('.msg-menu'), true);
    await expectVisible(line(bob, 'something regrettable').locator('.msg-menu'), false);

    await line(boss, 'something regrettable').locator('.msg-menu').click();
    const menu = line(boss, 'something regrettable').locator('.modmenu');
    await menu.waitFor();
    expect(await menu.locator('button').allInnerTexts()).toEqual(['Delete', 'Mute', 'Kick', 'Ban']);
    await boss.screenshot({ path: join(ARTIFACTS, 'chat-moderation-menu.png') });
    await menu.locator('input').fill('rude');
    await menu.locator('button[data-action="delete"]').click();
    for (const page of [boss, bob])
      await line(page, 'something regrettable').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await lines(bob).allInnerTexts()).toEqual([expect.stringMatching(/^Bob\s*something fine/)]);
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-moderation-deleted.png') });
    // Gone from the history too: a page opened now does not show it.
    await anon.goto(`${t.baseUrl}/#${room}`);
    await line(anon, 'something fine').waitFor({ timeout: 10_000 });
    expect(await line(anon, 'regrettable').count()).toBe(0);
  }, 60_000);

  it('a muted user sees why, and may post again once unmuted', async () => {
    await line(boss, 'something fine').locator('.msg-menu').click();
    const menu = line(boss, 'something fine').locator('.modmenu');
    await menu.locator('select').selectOption({ label: '10 minutes' });
    await menu.locator('input').fill('calm down');
    await menu.locator('button[data-action="mute"]').click();
    const note = bob.locator('#mod-note');
    await note
      .filter({ hasText: /You are muted in this room until .*: calm down/ })
      .waitFor({ timeout: 10_000 });
    await say(bob, 'but why');
    await bob.waitForTimeout(300);
    expect(await line(boss, 'but why').count()).toBe(0);
    // A refused post repeats why, reason included.
    expect(await note.innerText()).toMatch(/^You are muted in this room until .*: calm down\.$/);
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-moderation-muted.png') });

    const session = await login(t, 'boss', 'boss-password');
    await request(t.baseUrl)
      .post(`/chat/rooms/${room}/moderation/unmute`)
      .set('Cookie', session.cookie)
      .set('X-CSRFToken', session.csrf)
      .send({ user: bobId })
      .expect(200);
    await note.waitFor({ state: 'hidden', timeout: 10_000 });
    await say(bob, 'thank you');
    await line(boss, 'thank you').waitFor({ timeout: 10_000 });
  }, 60_000);

  it('kicked: the page says so and offers to rejoin; banned: it says so and stays out', async () => {
    await line(boss, 'thank you').locator('.msg-menu').click();
    await line(boss, 'thank you').locator('.modmenu button[data-action="kick"]').click();
    const note = bob.locator('#mod-note');
    await note
      .filter({ hasText: `You were removed from #${room} (kicked by a moderator)` })
      .waitFor({ timeout: 10_000 });
    await bob.locator('#status[data-state="closed"]', { hasText: 'kicked' }).waitFor();
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-moderation-kicked.png') });
    // No reconnection by itself: still closed a while later.
    await bob.waitForTimeout(1500);
    await bob.locator('#status[data-state="closed"]').waitFor();
    await note.locator('button', { hasText: 'Rejoin' }).click();
    await bob.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
    await expectVisible(note, false);

    await line(boss, 'thank you').locator('.msg-menu').click();
    const menu = line(boss, 'thank you').locator('.modmenu');
    await menu.locator('select').selectOption({ label: 'until lifted' });
    await menu.locator('input').fill('enough');
    await menu.locator('button[data-action="ban"]').click();
    await note.filter({ hasText: 'Banned from this room: enough' }).waitFor({ timeout: 10_000 });
    await bob.locator('#status', { hasText: 'banned' }).waitFor();
    // Reloading does not get them in: the refused room says why.
    await bob.reload();
    await note
      .filter({ hasText: `You cannot join #${room}: You are banned from this room: enough` })
      .waitFor({
        timeout: 10_000,
      });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-moderation-banned.png') });
  }, 60_000);

  it('a room that refuses the visitor says why; a read-only room says who may post', async () => {
    const session = await login(t, 'boss', 'boss-password');
    const put = (name: string, body: object) =>
      request(t.baseUrl)
        .put(`/admin/chat/rooms/${name}`)
        .set('Cookie', session.cookie)
        .set('X-CSRFToken', session.csrf)
        .send(body)
        .expect(200);
    await put('staffroom', { join: 'members', post: 'anyone' });
    await put('news', { join: 'anyone', post: 'moderators', topic: 'Team announcements' });

    await anon.goto(`${t.baseUrl}/#staffroom`);
    await anon
      .locator('#mod-note', { hasText: 'You cannot join #staffroom: This room is for its members: log in.' })
      .waitFor({ timeout: 10_000 });
    await anon.locator('#status[data-state="closed"]', { hasText: 'not allowed' }).waitFor();
    await anon.screenshot({ path: join(ARTIFACTS, 'chat-moderation-refused-phone.png'), fullPage: true });

    await anon.goto(`${t.baseUrl}/#news`);
    await anon.reload();
    await anon
      .locator('#room-info', { hasText: 'Team announcements · Only moderators may post in this room.' })
      .waitFor({ timeout: 10_000 });
    await expectVisible(anon.locator('#mod-note'), false);
    await say(anon, 'may I?');
    await anon
      .locator('#mod-note', { hasText: 'Only moderators may post in this room' })
      .waitFor({ timeout: 10_000 });
    await anon.screenshot({ path: join(ARTIFACTS, 'chat-moderation-read-only-phone.png'), fullPage: true });
  }, 60_000);
});

async function expectVisible(locator: ReturnType<Page['locator']>, visible: boolean): Promise<void> {
  expect(await locator.isVisible()).toBe(visible);
}
