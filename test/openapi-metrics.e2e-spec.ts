import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import request from 'supertest';
import { Pbkdf2Pool } from '../src/auth/pbkdf2-pool';
import { buildOpenApiDocument } from '../src/common/openapi';
import { startApp, TestApp } from './support/app';
import { anonymousCsrf, createUser } from './support/users';
import { eventually, openWs } from './support/ws';

const TOKEN = 'metrics-token-for-tests-0123456789';

/** Every HTTP route the app registered, as `METHOD /openapi/{style}` strings. */
function registeredRoutes(t: TestApp): string[] {
  const discovery = t.app.get(DiscoveryService);
  const scanner = new MetadataScanner();
  const routes: string[] = [];
  const join = (...parts: string[]) =>
    '/' +
    parts
      .flatMap((p) => p.split('/'))
      .filter(Boolean)
      .join('/');
  for (const wrapper of discovery.getControllers()) {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    if (!instance || !wrapper.metatype) continue;
    const base = (Reflect.getMetadata(PATH_METADATA, wrapper.metatype) as string | string[]) ?? '';
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as object;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (path === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      for (const b of [base].flat())
        for (const p of [path].flat()) routes.push(`${method} ${join(b, p).replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes.sort();
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

describe('OpenAPI document and Prometheus metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp({ METRICS_TOKEN: TOKEN, TRUST_PROXY: 'true' });
  });
  afterAll(() => t?.close());

  describe('OpenAPI', () => {
    it('describes every route the app registers', () => {
      const document = buildOpenApiDocument(t.app);
      const documented = Object.entries(document.paths).flatMap(([path, item]) =>
        Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
      );
      const routes = registeredRoutes(t);
      expect(routes.length).toBeGreaterThan(10);
      expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
      // Each has a summary and, where it takes input, documented errors with the shared error body.
      for (const [path, item] of Object.entries(document.paths))
        for (const [method, op] of Object.entries(item as Record<string, { summary?: string }>))
          expect(`${method} ${path}: ${op.summary ? 'has summary' : 'NO SUMMARY'}`).toMatch(/has summary$/);
    });

    it('serves the document and a browsable UI without a CDN', async () => {
      const json = await request(t.baseUrl).get('/api/openapi.json').expect(200);
      expect(json.body.openapi).toMatch(/^3\./);
      expect(json.body.components.securitySchemes.session).toMatchObject({ in: 'cookie', name: 'sessionid' });
      expect(json.body.paths['/auth/login'].post.responses['429']).toBeDefined();
      // API tokens (issue 19): the scheme, and the scope each token-enabled operation needs.
      expect(json.body.components.securitySchemes.token).toMatchObject({
        in: 'header',
        name: 'Authorization',
      });
      expect(json.body.components.securitySchemes.token.description).toContain('chat:publish');
      const history = json.body.paths['/chat/rooms/{room}/messages'].get;
      expect(history['x-token-scope']).toBe('chat:read');
      expect(history.security).toEqual(expect.arrayContaining([{ token: [] }, { session: [], csrf: [] }]));
      expect(json.body.paths['/admin/users'].get['x-token-scope']).toBe('admin:users');
      // Token management itself is for sessions only: no token scheme there.
      expect(json.body.paths['/auth/tokens'].post['x-token-scope']).toBeUndefined();
      const ui = await request(t.baseUrl).get('/api/docs').redirects(1).expect(200);
      expect(ui.text).toContain('swagger-ui');
      expect(ui.text).not.toMatch(/https?:\/\/(cdn|unpkg)/);
    });
  });

  describe('/metrics', () => {
    it('needs the bearer token when METRICS_TOKEN is set', async () => {
      await request(t.baseUrl).get('/metrics').expect(401);
      await request(t.baseUrl)
        .get('/metrics')
        .set('Authorization', 'Bearer wrong-token-of-some-length')
        .expect(401);
      const res = await request(t.baseUrl)
        .get('/metrics')
        .set('Authorization', `Bearer ${TOKEN}`)
        .expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text).toContain('live_process_cpu_seconds_total');
    });

    const scrape = async () =>
      (await request(t.baseUrl).get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200)).text;

    it('counts sockets, messages, deliveries and closes by reason after real traffic', async () => {
      const before = await scrape();
      const a = await openWs(`ws://127.0.0.1:${t.port}/chat/metrics-room/`);
      const b = await openWs(`ws://127.0.0.1:${t.port}/chat/metrics-room/`);
      await Promise.all([a.next(), b.next()]);
      expect(metricValue(await scrape(), 'live_chat_open_sockets')).toBe(2);
      a.send('hello');
      await Promise.all([a.next(), b.next()]);
      const after = await scrape();
      expect(metricValue(after, 'live_chat_messages_received_total')).toBe(
        metricValue(before, 'live_chat_messages_received_total') + 1,
      );
      expect(metricValue(after, 'live_chat_messages_delivered_total')).toBe(
        metricValue(before, 'live_chat_messages_delivered_total') + 2,
      );
      expect(metricValue(after, 'live_chat_broadcast_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(metricValue(after, 'live_chat_rooms')).toBe(1);
      expect(metricValue(after, 'live_channel_layer_up', '{layer="memory"}')).toBe(1);

      a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect((await a.closed).code).toBe(1003);
      const label = '{code="1003",reason="bad_frame_binary"}';
      await eventually(
        async () => metricValue(await scrape(), 'live_chat_sockets_closed_total', label) === 1,
      );
      await b.close();
      await eventually(async () => metricValue(await scrape(), 'live_chat_open_sockets') === 0);
    });

    it('counts login successes and failures', async () => {
      await createUser(t, { username: 'metrics-user', password: 'right-password' });
      const before = await scrape();
      const attempt = async (password: string, ip: string) => {
        const anon = await anonymousCsrf(t);
        return request(t.baseUrl)
          .post('/auth/login')
          .set('Cookie', anon.cookie)
          .set('X-CSRFToken', anon.csrf)
          .set('X-Forwarded-For', ip)
          .send({ username: 'metrics-user', password });
      };
      expect((await attempt('wrong', '10.9.0.1')).status).toBe(401);
      expect((await attempt('right-password', '10.9.0.2')).status).toBe(200);
      const after = await scrape();
      for (const outcome of ['failure', 'success'])
        expect(metricValue(after, 'live_auth_logins_total', `{outcome="${outcome}"}`)).toBe(
          metricValue(before, 'live_auth_logins_total', `{outcome="${outcome}"}`) + 1,
        );
    });

    it('shows hashes waiting for a hashing thread', async () => {
      const pbkdf2Pool = t.app.get(Pbkdf2Pool);
      const threads = pbkdf2Pool.threadCount;
      const idle = await scrape();
      expect(metricValue(idle, 'live_password_hashing_queued')).toBe(0);
      expect(metricValue(idle, 'live_password_hashing_threads', '{state="idle"}')).toBe(threads);
      // Two more derivations than threads, each ≈ 0.4 s: two wait while the scrape runs.
      const burst = Array.from({ length: threads + 2 }, (_, i) =>
        pbkdf2Pool.derive(`pw${i}`, 'salt', 2_000_000, 32, 'sha256'),
      );
      const busy = await scrape();
      expect(metricValue(busy, 'live_password_hashing_queued')).toBe(2);
      expect(metricValue(busy, 'live_password_hashing_threads', '{state="busy"}')).toBe(threads);
      await Promise.all(burst);
      expect(metricValue(await scrape(), 'live_password_hashing_queued')).toBe(0);
    });
  });
});
