import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Group } from '../src/auth/group.entity';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, chromiumAvailable, launchChromium } from './support/browser';
import { createUser } from './support/users';
import { openWs, refusedUpgrade } from './support/ws';

/**
 * The console's Chat tab (issue 18) in Chromium: staff give a room rules, see them applied to real
 * sockets, moderate a room's messages (delete, mute, kick, ban), lift a sanction, read the log.
 * Screenshots: test-artifacts/admin-chat-*.png.
 */
const describeBrowser = chromiumAvailable() ? describe : describe.skip;

describeBrowser('the console’s Chat tab in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let wsBase: string;
  const shot = (name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `admin-chat-${name}.png`), fullPage: true });

  beforeAll(async () => {
    t = await startApp();
    wsBase = `ws://127.0.0.1:${t.port}`;
    await createUser(t, { username: 'root', password: 'root-pass', isStaff: true, firstName: 'Ada' });
    await createUser(t, { username: 'carol', password: 'carol-pass', firstName: 'Carol' });
    await t.app.get(DataSource).getRepository(Group).save({ name: 'mods' });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${t.baseUrl}/admin/`);
    await page.fill('input[name=username]', 'root');
    await page.fill('input[name=password]', 'root-pass');
    await page.click('button[type=submit]');
    await page.locator('#view[data-tab="users"]').waitFor({ timeout: 10_000 });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('gives a room rules that refuse the next anonymous handshake, shows them, and refuses unknown names', async () => {
    await page.goto(`${t.baseUrl}/admin/#chat`);
    await page.locator('#view[data-tab="chat"] #no-rules').waitFor({ timeout: 10_000 });
    const form = page.locator('#rules-form');
    await form.locator('input[name=room]').fill('crew');
    await form.locator('select[name=join]').selectOption('members');
    await form.locator('select[name=post]').selectOption('moderators');
    await form.locator('input[name=topic]').fill('Crew only');
    await form.locator('input[name=moderatorGroup]').fill('mods');
    await form.locator('input[name=users]').fill('carol, ghost');
    await form.locator('button[type=submit]').click();
    await page
      .locator('#flash.bad', { hasText: 'Could not save the rules of crew: Unknown users: ghost.' })
      .waitFor();
    await form.locator('input[name=users]').fill('carol');
    await form.locator('button[type=submit]').click();
    const row = page.locator('tr[data-rules="crew"]');
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td').allInnerTexts()).toEqual([
      'crew',
      'members',
      'moderators',
      'Crew only',
      'staff, mods',
      'carol',
      expect.stringContaining('Remove rules'),
    ]);
    expect((await refusedUpgrade(`${wsBase}/chat/crew/`)).statusCode).toBe(401);
    await shot('rules');
  }, 60_000);

  it('moderates a room from its messages: delete, mute then lift it, ban; the log says who did what', async () => {
    await request(t.baseUrl)
      .put('/admin/chat/rooms/crew')
      .set('Cookie', await cookieOf(page))
      .set('X-CSRFToken', await csrfOf(page))
      .send({ join: 'anyone', post: 'anyone' })
      .expect(200);
    const login = await request(t.baseUrl).get('/auth/csrf');
    const csrf = login.body.csrfToken as string;
    const res = await request(t.baseUrl)
      .post('/auth/login')
      .set('Cookie', `csrftoken=${csrf}`)
      .set('X-CSRFToken', csrf)
      .send({ username: 'carol', password: 'carol-pass' })
      .expect(200);
    const cookie = (res.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
    const carol = await openWs(`${wsBase}/chat/crew/`, { headers: { Cookie: cookie } });
    expect(await carol.next()).toBe('Bienvenue Carol !');
    carol.send('first words');
    carol.send('second words');
    expect(await carol.next()).toBe('<Carol> first words');
    expect(await carol.next()).toBe('<Carol> second words');

    // The tab shows crew since its rules were saved: read it again.
    await page.goto(`${t.baseUrl}/admin/#chat?room=crew`);
    await page.reload();
    const first = page.locator('tr[data-message]', { hasText: 'first words' });
    await first.waitFor({ timeout: 10_000 });
    await first.getByRole('button', { name: 'Delete message' }).click();
    await page.locator('#flash', { hasText: 'Message deleted.' }).waitFor();
    await page.locator('tr[data-message]', { hasText: 'first words' }).waitFor({ state: 'detached' });

    await page.locator('#mod-duration').selectOption({ label: '10 minutes' });
    await page.locator('#mod-reason').fill('too loud');
    await page
      .locator('tr[data-message]', { hasText: 'second words' })
      .getByRole('button', { name: 'Mute Carol' })
      .click();
    await page.locator('#flash', { hasText: 'Carol muted.' }).waitFor();
    const sanction = page.locator('tr[data-sanction]');
    await sanction.waitFor();
    expect(await sanction.innerText()).toMatch(/muted\s+Carol\s+.+\s+too loud/);
    await shot('moderation');
    await sanction.getByRole('button', { name: 'Unmute' }).click();
    await page.locator('#flash', { hasText: 'Carol may post again.' }).waitFor();
    await page.locator('#no-sanctions').waitFor();

    await page.locator('#mod-duration').selectOption({ label: 'until lifted' });
    await page
      .locator('tr[data-message]', { hasText: 'second words' })
      .getByRole('button', { name: 'Ban Carol' })
      .click();
    await page.locator('#confirm-dialog button.danger', { hasText: 'Ban' }).click();
    await page.locator('#flash', { hasText: 'Carol banned.' }).waitFor();
    expect(await carol.closed).toEqual({ code: 4011, reason: 'banned from this room' });
    const log = page.locator('tr[data-log]');
    await log.first().waitFor();
    expect((await log.allInnerTexts()).map((r) => r.split('\t')[3])).toEqual([
      'ban',
      'unmute',
      'mute',
      'delete',
      'rules_set',
      'rules_set',
    ]);
    expect(await log.nth(3).innerText()).toContain('“first words”');
    await shot('log');
  }, 60_000);
});

async function cookieOf(page: Page): Promise<string> {
  return (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
}

async function csrfOf(page: Page): Promise<string> {
  return (await page.context().cookies()).find((c) => c.name === 'csrftoken')?.value ?? '';
}
