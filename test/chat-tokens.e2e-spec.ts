import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { hashTicket } from '../src/chat/chat-ticket.store';
import { startApp, TestApp } from './support/app';
import { ARTIFACTS, CHROMIUM, chromiumAvailable } from './support/browser';
import { databaseVariants } from './support/databases';
import { createUser, login, LoginSession } from './support/users';
import { openWs, refusedUpgrade, WsClient } from './support/ws';

/** What a refused handshake answered: its status and its JSON body. */
function parsed(refusal: { statusCode: number; body: string }) {
  return { status: refusal.statusCode, body: JSON.parse(refusal.body) as Record<string, unknown> };
}

/**
 * WebSocket logins without cookies (issue 19): an Authorization token on the handshake, and
 * single-use tickets from POST /chat/tickets; identity that ends with the token or the user.
 */
describe.each(databaseVariants())('chat sockets with tokens and tickets on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let joe: LoginSession;
  let boss: LoginSession;
  let joeId: number;
  const open: WsClient[] = [];

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, TRUST_PROXY: 'true', API_TOKEN_FAILURES_PER_ADDRESS: '20' });
    joeId = (
      await createUser(t, { username: 'joe', password: 'joe-pass', firstName: 'Joe', lastName: 'Token' })
    ).id;
    await createUser(t, { username: 'ann', password: 'ann-pass', firstName: 'Ann' });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    joe = await login(t, 'joe', 'joe-pass');
    boss = await login(t, 'boss', 'boss-pass');
  });

  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await t?.close();
    await teardownDb?.();
  });

  const http = () => request(t.baseUrl);
  const wsUrl = (room: string, query = '') => `ws://127.0.0.1:${t.port}/chat/${room}/${query}`;
  const makeToken = async (who: LoginSession, scopes: string[]): Promise<{ key: string; id: number }> =>
    (
      await http()
        .post('/auth/tokens')
        .set('Cookie', who.cookie)
        .set('X-CSRFToken', who.csrf)
        .send({ name: 'socket', scopes })
        .expect(201)
    ).body;
  const connect = async (url: string, headers: Record<string, string> = {}, protocols?: string[]) => {
    const c = await openWs(url, { headers, protocols });
    open.push(c);
    return c;
  };
  const ticketWithToken = async (key: string, room: string) =>
    (await http().post('/chat/tickets').set('Authorization', `Token ${key}`).send({ room }).expect(201))
      .body as {
      ticket: string;
      expiresAt: string;
      path: string;
    };
  const ticketWithCookie = async (who: LoginSession, room: string) =>
    (
      await http()
        .post('/chat/tickets')
        .set('Cookie', who.cookie)
        .set('X-CSRFToken', who.csrf)
        .send({ room })
        .expect(201)
    ).body as { ticket: string; expiresAt: string };

  it('a ws client with Authorization: Token joins as the token’s user and posts; Bearer too; cookies are then ignored', async () => {
    const { key } = await makeToken(joe, ['chat:read']);
    const ann = await login(t, 'ann', 'ann-pass');
    const c = await connect(wsUrl('tokens'), { Authorization: `Token ${key}`, Cookie: ann.cookie });
    expect(await c.next()).toBe('Bienvenue Joe Token !');
    c.send('hello from a script');
    expect(await c.next()).toBe('<Joe Token> hello from a script');
    const v1 = await connect(wsUrl('tokens'), { Authorization: `Bearer ${key}` }, ['live.v1']);
    expect(await v1.nextJson()).toMatchObject({ type: 'welcome', name: 'Joe Token', user: joeId });
  });

  it('refuses before the handshake: 401 for unknown or malformed keys (one message), 403 without chat:read', async () => {
    const unknown = parsed(
      await refusedUpgrade(wsUrl('tokens'), { Authorization: `Token live_${'x'.repeat(43)}` }),
    );
    expect(unknown).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: 'Invalid token.' },
    });
    const junk = parsed(await refusedUpgrade(wsUrl('tokens'), { Authorization: 'Token nope' }));
    expect(junk.body.message).toBe('Invalid token.');
    const bare = parsed(await refusedUpgrade(wsUrl('tokens'), { Authorization: 'Bearer' }));
    expect(bare).toMatchObject({ status: 401, body: { message: expect.stringMatching(/No credentials/) } });
    const { key } = await makeToken(joe, ['chat:publish']);
    const narrow = parsed(await refusedUpgrade(wsUrl('tokens'), { Authorization: `Token ${key}` }));
    expect(narrow).toEqual({
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', message: 'This token lacks the "chat:read" scope' },
    });
  });

  it('revoking the token closes its open sockets with 4001 and refuses it at the next handshake', async () => {
    const { key, id } = await makeToken(joe, ['chat:read']);
    const c = await connect(wsUrl('revoked'), { Authorization: `Token ${key}` });
    expect(await c.next()).toBe('Bienvenue Joe Token !');
    const session = await connect(wsUrl('revoked'), { Cookie: joe.cookie }); // same user, its session: stays
    await session.next();
    await http()
      .delete(`/auth/tokens/${id}`)
      .set('Cookie', joe.cookie)
      .set('X-CSRFToken', joe.csrf)
      .expect(204);
    expect(await c.closed).toEqual({ code: 4001, reason: 'session ended' });
    expect(session.ws.readyState).toBe(session.ws.OPEN);
    const again = parsed(await refusedUpgrade(wsUrl('revoked'), { Authorization: `Token ${key}` }));
    expect(again).toMatchObject({ status: 401, body: { message: 'Invalid token.' } });
  });

  it('deactivating the user closes the token’s sockets (4001) and those of a ticket it asked for', async () => {
    const sam = await createUser(t, { username: 'sam', password: 'sam-pass', firstName: 'Sam' });
    const samSession = await login(t, 'sam', 'sam-pass');
    const { key } = await makeToken(samSession, ['chat:read']);
    const c = await connect(wsUrl('deact'), { Authorization: `Token ${key}` });
    expect(await c.next()).toBe('Bienvenue Sam !');
    const { ticket } = await ticketWithToken(key, 'deact');
    const viaTicket = await connect(wsUrl('deact', `?ticket=${ticket}`));
    expect(await viaTicket.next()).toBe('Bienvenue Sam !');
    await http()
      .patch(`/admin/users/${sam.id}`)
      .set('Cookie', boss.cookie)
      .set('X-CSRFToken', boss.csrf)
      .send({ isActive: false })
      .expect(200);
    expect(await c.closed).toEqual({ code: 4001, reason: 'session ended' });
    expect(await viaTicket.closed).toEqual({ code: 4001, reason: 'session ended' });
  });

  it('POST /chat/tickets: anonymous 401, no CSRF 403, bad room 400, token without chat:read 403; a ticket lasts 30 s', async () => {
    await http().post('/chat/tickets').send({ room: 'lobby' }).expect(401);
    await http().post('/chat/tickets').set('Cookie', joe.cookie).send({ room: 'lobby' }).expect(403);
    const bad = await http()
      .post('/chat/tickets')
      .set('Cookie', joe.cookie)
      .set('X-CSRFToken', joe.csrf)
      .send({ room: 'no/such room' })
      .expect(400);
    expect(bad.body).toMatchObject({ statusCode: 400 });
    const { key: publishOnly } = await makeToken(joe, ['chat:publish']);
    await http()
      .post('/chat/tickets')
      .set('Authorization', `Token ${publishOnly}`)
      .send({ room: 'lobby' })
      .expect(403);
    const before = Date.now();
    const issued = await ticketWithCookie(joe, 'lobby');
    expect(issued.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ttl = new Date(issued.expiresAt).getTime() - before;
    expect(ttl).toBeGreaterThan(29_000);
    expect(ttl).toBeLessThanOrEqual(31_000);
    // Only its hash is kept.
    const rows: { ticket_hash: string }[] = await t.app
      .get(DataSource)
      .query(`SELECT ticket_hash FROM live_chat_ticket`);
    expect(rows.map((r) => r.ticket_hash)).toContain(hashTicket(issued.ticket));
    expect(JSON.stringify(rows)).not.toContain(issued.ticket);
  });

  it('a ticket opens one socket to its room as its user, once; another room, a reuse or an expired one is 401', async () => {
    const { ticket } = await ticketWithCookie(joe, 'tickets');
    const c = await connect(wsUrl('tickets', `?ticket=${ticket}`), {}, ['live.v1']);
    expect(await c.nextJson()).toMatchObject({ type: 'welcome', name: 'Joe Token', user: joeId });
    const reuse = parsed(await refusedUpgrade(wsUrl('tickets', `?ticket=${ticket}`)));
    expect(reuse).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: 'Invalid ticket.' },
    });

    const other = await ticketWithCookie(joe, 'tickets');
    const wrongRoom = parsed(await refusedUpgrade(wsUrl('elsewhere', `?ticket=${other.ticket}`)));
    expect(wrongRoom).toMatchObject({ status: 401, body: { message: 'This ticket is for another room.' } });
    // Spent by that attempt.
    expect(parsed(await refusedUpgrade(wsUrl('tickets', `?ticket=${other.ticket}`))).status).toBe(401);

    // Expired: the row's deadline moved into the past, as 30 s would.
    const late = await ticketWithCookie(joe, 'tickets');
    await t.app
      .get(DataSource)
      .getRepository('ChatTicketEntity')
      .update({ ticketHash: hashTicket(late.ticket) }, { expiresAt: new Date(Date.now() - 1000) });
    const expired = parsed(await refusedUpgrade(wsUrl('tickets', `?ticket=${late.ticket}`)));
    expect(expired).toMatchObject({ status: 401, body: { message: 'This ticket has expired.' } });
  });

  it('a ticket from a session follows that session: logged out before use → 401; logout after closes it with 4001', async () => {
    const session = await login(t, 'ann', 'ann-pass');
    const first = await ticketWithCookie(session, 'follow');
    const second = await ticketWithCookie(session, 'follow');
    const c = await connect(wsUrl('follow', `?ticket=${first.ticket}`));
    expect(await c.next()).toBe('Bienvenue Ann !');
    await http()
      .post('/auth/logout')
      .set('Cookie', session.cookie)
      .set('X-CSRFToken', session.csrf)
      .expect(204);
    expect(await c.closed).toEqual({ code: 4001, reason: 'session ended' });
    const after = parsed(await refusedUpgrade(wsUrl('follow', `?ticket=${second.ticket}`)));
    expect(after).toMatchObject({
      status: 401,
      body: { message: 'The login this ticket was issued with has ended.' },
    });
  });

  it('a token socket moderates only with chat:moderate, though its user is staff', async () => {
    const nextOfType = async (c: WsClient, type: string) => {
      for (;;) {
        const f = await c.nextJson<{ type: string; code?: string; message?: string; action?: string }>();
        if (f.type === type) return f;
      }
    };
    const readOnly = await makeToken(boss, ['chat:read']);
    const c = await connect(wsUrl('modtokens'), { Authorization: `Token ${readOnly.key}` }, ['live.v1']);
    expect(await c.nextJson()).toMatchObject({ type: 'welcome', moderator: true });
    c.send(JSON.stringify({ type: 'kick', user: joeId }));
    expect(await nextOfType(c, 'error')).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('"chat:moderate"'),
    });
    const moderate = await makeToken(boss, ['chat:read', 'chat:moderate']);
    const m = await connect(wsUrl('modtokens'), { Authorization: `Token ${moderate.key}` }, ['live.v1']);
    m.send(JSON.stringify({ type: 'kick', user: joeId }));
    expect(await nextOfType(m, 'moderated')).toMatchObject({ action: 'kick', user: joeId });
  });

  it('two handshakes racing with one ticket: exactly one opens', async () => {
    const { ticket } = await ticketWithCookie(joe, 'race');
    const results = await Promise.allSettled(
      [0, 1, 2].map(() => openWs(wsUrl('race', `?ticket=${ticket}`)).then((c) => (open.push(c), c))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as { statusCode: number }).statusCode).toBe(401);
  });

  it('bad tokens and tickets from one address are limited (429 with Retry-After), other addresses unaffected', async () => {
    const from = { 'X-Forwarded-For': '10.77.0.1' };
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++)
      statuses.push((await refusedUpgrade(wsUrl('limits', `?ticket=${'A'.repeat(43)}`), from)).statusCode);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[21]).toBe(429);
    const { key } = await makeToken(joe, ['chat:read']);
    const ok = await connect(wsUrl('limits'), {
      Authorization: `Token ${key}`,
      'X-Forwarded-For': '10.77.0.2',
    });
    expect(await ok.next()).toBe('Bienvenue Joe Token !');
  });
});

const describeBrowser = chromiumAvailable() ? describe : describe.skip;

/**
 * A page on another site (CHAT_ALLOWED_ORIGINS) in Chromium. Host names are mapped to 127.0.0.1 by
 * the browser, so the chat site (chat.example.test) and the other site (widget.example.test) are
 * distinct origins of one registrable domain: the Lax session cookie IS sent with the page's
 * handshake, the cross-site WebSocket hijacking case, and must give no identity.
 */
describeBrowser('a page on a second origin, in Chromium', () => {
  let t: TestApp;
  let widget: Server;
  let widgetPort: number;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let joe: LoginSession;
  /** The Cookie header of each chat handshake, as the server received it. */
  const handshakeCookies: (string | undefined)[] = [];

  beforeAll(async () => {
    widget = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>widget</title><p>another site</p>');
    });
    await new Promise<void>((resolve) => widget.listen(0, '127.0.0.1', resolve));
    widgetPort = (widget.address() as AddressInfo).port;
    t = await startApp({
      ALLOWED_HOSTS: 'chat.example.test,127.0.0.1',
      CHAT_ALLOWED_ORIGINS: `http://widget.example.test:${widgetPort}`,
    });
    t.app.getHttpServer().on('upgrade', (req: IncomingMessage) => handshakeCookies.push(req.headers.cookie));
    await createUser(t, { username: 'joe', password: 'joe-pass', firstName: 'Joe', lastName: 'Widget' });
    joe = await login(t, 'joe', 'joe-pass');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--host-resolver-rules=MAP *.example.test 127.0.0.1',
      ],
      timeout: 30_000,
    });
    context = await browser.newContext();
    // The visitor is logged in on the chat site: its session cookie is in the browser.
    const session = /sessionid=([a-z0-9]+)/.exec(joe.cookie)![1];
    await context.addCookies([
      { name: 'sessionid', value: session, domain: 'chat.example.test', path: '/', sameSite: 'Lax' },
    ]);
    page = await context.newPage();
  }, 60_000);

  afterAll(async () => {
    if (page && expect.getState().currentTestName === undefined)
      await page.screenshot({ path: `${ARTIFACTS}/chat-tokens-widget.png` }).catch(() => undefined);
    await context?.close();
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => widget?.close(resolve));
  });

  /** Opens a socket from the page; the first frame, or how it failed. */
  const fromPage = (url: string) =>
    page.evaluate(
      (u) =>
        new Promise<{ frame?: string; error?: boolean; code?: number }>((resolve) => {
          const ws = new WebSocket(u, 'live.v1');
          ws.onmessage = (e) => {
            resolve({ frame: String(e.data) });
            ws.close();
          };
          ws.onerror = () => resolve({ error: true });
          ws.onclose = (e) => resolve({ code: e.code });
        }),
      url,
    );
  const chatWs = (room: string, query = '') => `ws://chat.example.test:${t.port}/chat/${room}/${query}`;

  it('joins with a ticket as the ticket’s user', async () => {
    await page.goto(`http://widget.example.test:${widgetPort}/`);
    const { ticket } = (
      await request(t.baseUrl)
        .post('/chat/tickets')
        .set('Cookie', joe.cookie)
        .set('X-CSRFToken', joe.csrf)
        .send({ room: 'widget' })
        .expect(201)
    ).body;
    const result = await fromPage(chatWs('widget', `?ticket=${ticket}`));
    expect(JSON.parse(result.frame!)).toMatchObject({ type: 'welcome', name: 'Joe Widget', room: 'widget' });
  });

  it('without a ticket the page is anonymous, though the browser sent the session cookie', async () => {
    await page.goto(`http://widget.example.test:${widgetPort}/`);
    handshakeCookies.length = 0;
    const result = await fromPage(chatWs('widget'));
    expect(JSON.parse(result.frame!)).toMatchObject({ type: 'welcome', name: 'Anonymous troll', user: null });
    // Not vacuous: the cookie was there to be misused.
    expect(handshakeCookies.at(-1)).toContain('sessionid=');
  });

  it('a page on an origin in no list is refused (the browser sees a failed handshake)', async () => {
    await page.goto(`http://evil.example.test:${widgetPort}/`);
    const result = await fromPage(chatWs('widget'));
    expect(result.frame).toBeUndefined();
    const refused = await refusedUpgrade(`ws://127.0.0.1:${t.port}/chat/widget/`, {
      Origin: `http://evil.example.test:${widgetPort}`,
    });
    expect(parsed(refused)).toEqual({
      status: 403,
      body: {
        statusCode: 403,
        error: 'Forbidden',
        message: `Origin http://evil.example.test:${widgetPort} is not allowed`,
      },
    });
  });

  it('the chat site’s own page keeps using its cookie', async () => {
    await page.goto(`http://chat.example.test:${t.port}/auth/csrf`);
    const result = await fromPage(chatWs('widget'));
    expect(JSON.parse(result.frame!)).toMatchObject({ type: 'welcome', name: 'Joe Widget' });
  });
});
