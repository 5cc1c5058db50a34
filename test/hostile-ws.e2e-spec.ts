import { connect } from 'node:net';
import { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { ChatRoomEntity } from '../src/chat/chat-room.entity';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { eventually, openWs } from './support/ws';

/**
 * The WebSocket side of the hostile-input suite: handshakes and frames an attacker would try.
 * Every handshake must be answered (101 or a 4xx with a JSON body, never a 5xx, a hang or a dropped
 * connection), every bad frame gets a close code or an error frame, and the server goes on serving
 * the room afterwards. Add an entry to HANDSHAKES or FRAMES for each new way in.
 */

interface RawAnswer {
  status: number;
  body: string;
  ms: number;
}

/** Sends a raw HTTP upgrade request and reads the status line and body (or 101). */
function rawUpgrade(port: number, path: string, headers: Record<string, string>): Promise<RawAnswer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const lines = [`GET ${path} HTTP/1.1`];
      const all: Record<string, string> = {
        Host: `127.0.0.1:${port}`,
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...headers,
      };
      for (const [k, v] of Object.entries(all)) if (v !== '') lines.push(`${k}: ${v}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n', 'latin1');
    });
    let data = '';
    const finish = () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      socket.destroy();
      resolve({ status, body: rest.join('\r\n\r\n'), ms: Date.now() - started });
    };
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (data.startsWith('HTTP/1.1 101') && data.includes('\r\n\r\n')) finish();
    });
    socket.on('close', finish);
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? finish() : reject(err)));
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no answer to the upgrade of ${path} within 5 s`));
    });
  });
}

const HANDSHAKES: { name: string; path: string; headers?: Record<string, string>; status: number }[] = [
  { name: 'NUL in the room', path: '/chat/a%00b/', status: 400 },
  { name: 'invalid percent-encoding', path: '/chat/%ff%fe/', status: 400 },
  { name: 'truncated percent-encoding', path: '/chat/abc%/', status: 400 },
  { name: 'traversal in the room', path: '/chat/..%2F..%2Fetc/', status: 400 },
  { name: 'encoded slash', path: '/chat/a%2Fb/', status: 400 },
  { name: 'a 10,000-character room', path: `/chat/${'r'.repeat(10_000)}/`, status: 400 },
  { name: 'a path that is no chat', path: '/admin/users/', status: 404 },
  { name: 'no trailing slash', path: '/chat/lobby', status: 404 },
  { name: 'negative history', path: '/chat/lobby/?history=-1', status: 400 },
  { name: 'history beyond the maximum', path: '/chat/lobby/?history=501', status: 400 },
  { name: 'exponent since', path: '/chat/lobby/?since=1e400', status: 400 },
  { name: 'since beyond a safe integer', path: '/chat/lobby/?since=99999999999999999999', status: 400 },
  { name: 'since with NUL', path: '/chat/lobby/?since=1%00', status: 400 },
  {
    name: 'a Host outside ALLOWED_HOSTS',
    path: '/chat/lobby/',
    headers: { Host: 'evil.example' },
    status: 400,
  },
  { name: 'no Host at all', path: '/chat/lobby/', headers: { Host: '' }, status: 400 },
  // Room rules (issue 18): the suite declares hostile-members (members only) before it starts.
  { name: 'an anonymous visitor to a members-only room', path: '/chat/hostile-members/', status: 401 },
  {
    name: 'a forged session to a members-only room',
    path: '/chat/hostile-members/',
    headers: { Cookie: `sessionid=${'z'.repeat(32)}` },
    status: 401,
  },
  {
    name: 'a members-only room spelled with percent-encoding',
    path: '/chat/hostile%2Dmembers/',
    status: 401,
  },
  {
    name: 'a foreign Origin',
    path: '/chat/lobby/',
    headers: { Origin: 'https://evil.example' },
    status: 403,
  },
  { name: 'an Origin that is no URL', path: '/chat/lobby/', headers: { Origin: 'null' }, status: 403 },
  { name: 'junk session cookie', path: '/chat/lobby/', headers: { Cookie: 'sessionid=%%%; x' }, status: 101 },
  {
    name: 'a 6 KB session cookie',
    path: '/chat/lobby/',
    headers: { Cookie: `sessionid=${'a'.repeat(6000)}` },
    status: 101,
  },
  {
    name: 'a session key of the right shape that does not exist',
    path: '/chat/lobby/',
    headers: { Cookie: `sessionid=${'z'.repeat(32)}` },
    status: 101,
  },
  {
    name: 'garbage subprotocols',
    path: '/chat/lobby/',
    headers: { 'Sec-WebSocket-Protocol': 'x'.repeat(2000) + ', live.v1 ,,' },
    status: 400,
  },
  {
    name: 'a long but valid subprotocol list',
    path: '/chat/lobby/',
    headers: { 'Sec-WebSocket-Protocol': 'x'.repeat(2000) + ', live.v1' },
    status: 101,
  },
  {
    name: 'an unsupported WebSocket version',
    path: '/chat/lobby/',
    headers: { 'Sec-WebSocket-Version': '7' },
    status: 400,
  },
  {
    name: 'a bad WebSocket key',
    path: '/chat/lobby/',
    headers: { 'Sec-WebSocket-Key': 'short' },
    status: 400,
  },
  // Logins without cookies (issue 19): tokens in the Authorization header, tickets in the query.
  {
    name: 'Authorization: Token without a key',
    path: '/chat/lobby/',
    headers: { Authorization: 'Token' },
    status: 401,
  },
  {
    name: 'Authorization: Token with two words',
    path: '/chat/lobby/',
    headers: { Authorization: 'Token live_a live_b' },
    status: 401,
  },
  {
    name: 'an 8 KB bearer key',
    path: '/chat/lobby/',
    headers: { Authorization: `Bearer ${'x'.repeat(8000)}` },
    status: 401,
  },
  {
    name: 'a token of the right shape that does not exist',
    path: '/chat/lobby/',
    headers: { Authorization: `Token live_${'Q'.repeat(43)}` },
    status: 401,
  },
  {
    name: 'a token with SQL in it',
    path: '/chat/lobby/',
    headers: { Authorization: "Token live_'OR'1'='1'--" },
    status: 401,
  },
  {
    name: 'a token of raw high bytes',
    path: '/chat/lobby/',
    headers: { Authorization: 'tOkEn \xff\xfe\x80' },
    status: 401,
  },
  {
    name: 'a Basic Authorization (not live’s: ignored)',
    path: '/chat/lobby/',
    headers: { Authorization: 'Basic dXNlcjpwYXNz' },
    status: 101,
  },
  { name: 'an empty ticket', path: '/chat/lobby/?ticket=', status: 401 },
  { name: 'a 10,000-character ticket', path: `/chat/lobby/?ticket=${'A'.repeat(10_000)}`, status: 401 },
  {
    name: 'a ticket of the right shape never issued',
    path: `/chat/lobby/?ticket=${'A'.repeat(43)}`,
    status: 401,
  },
  { name: 'a ticket with NUL', path: `/chat/lobby/?ticket=${'A'.repeat(42)}%00`, status: 401 },
  { name: 'a ticket of invalid percent-encoding', path: '/chat/lobby/?ticket=%ff%fe%', status: 401 },
  { name: 'ticket given twice', path: '/chat/lobby/?ticket=a&ticket=b', status: 400 },
  {
    name: 'a ticket and a token at once',
    path: `/chat/lobby/?ticket=${'A'.repeat(43)}`,
    headers: { Authorization: `Token live_${'Q'.repeat(43)}` },
    status: 400,
  },
  {
    name: 'a ticket to a members-only room',
    path: `/chat/hostile-members/?ticket=${'B'.repeat(43)}`,
    status: 401,
  },
];

describe.each(databaseVariants())('hostile WebSocket input on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  let wsBase: string;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    t = await startApp({ ...db.env, CHAT_MAX_MESSAGE_BYTES: '65536', CHAT_RATE: '1000', CHAT_BURST: '1000' });
    wsBase = `ws://127.0.0.1:${t.port}`;
    await t.app.get(DataSource).getRepository(ChatRoomEntity).insert({
      room: 'hostile-members',
      join: 'members',
      post: 'anyone',
      topic: '',
      moderatorGroupId: null,
      updatedAt: new Date(),
      updatedById: null,
    });
  });

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  it.each(HANDSHAKES)('handshake with $name → $status', async ({ path, headers, status }) => {
    const answer = await rawUpgrade(t.port, path, headers ?? {});
    expect(answer.status).toBe(status);
    expect(answer.ms).toBeLessThan(5000);
    if (status !== 101) {
      const body = JSON.parse(answer.body) as { statusCode: number; message: string };
      expect(body.statusCode).toBe(status);
      expect(typeof body.message).toBe('string');
    }
  });

  async function v1(room: string) {
    const c = await openWs(`${wsBase}/chat/${room}/`, { protocols: ['live.v1'] });
    expect(JSON.parse(await c.next())).toMatchObject({ type: 'welcome' });
    return c;
  }

  const nextError = async (c: Awaited<ReturnType<typeof v1>>) => {
    for (;;) {
      const f = JSON.parse(await c.next()) as { type: string; code?: string };
      if (f.type === 'error') return f;
    }
  };

  const BAD_V1_FRAMES: { name: string; frame: string }[] = [
    { name: 'not JSON', frame: '{"type":' },
    { name: 'a JSON string', frame: '"hello"' },
    { name: 'null', frame: 'null' },
    { name: 'an array', frame: '[1,2,3]' },
    { name: 'no type', frame: '{"text":"hi"}' },
    { name: 'text as an object', frame: '{"type":"message","text":{"toString":"x"}}' },
    { name: 'text as a number', frame: '{"type":"message","text":12}' },
    { name: 'a __proto__ key', frame: '{"__proto__":{"type":"message"},"text":"x"}' },
    { name: '30,000 levels of nesting', frame: '['.repeat(30_000) + ']'.repeat(30_000) },
    { name: 'a 60 KB number', frame: '{"type":"message","text":' + '9'.repeat(60_000) + '}' },
    // Moderation commands (issue 18) are checked for shape before anyone is asked who sends them.
    { name: 'a delete without an id', frame: '{"type":"delete"}' },
    { name: 'a delete of a negative id', frame: '{"type":"delete","id":-1}' },
    { name: 'a mute of a string user', frame: '{"type":"mute","user":"1 OR 1=1"}' },
    { name: 'a kick of user 0', frame: '{"type":"kick","user":0}' },
    { name: 'a ban for a billion seconds', frame: '{"type":"ban","user":1,"duration":1e9}' },
    {
      name: 'a ban with a 600-character reason',
      frame: JSON.stringify({ type: 'ban', user: 1, reason: 'r'.repeat(600) }),
    },
    { name: 'an unban with an object reason', frame: '{"type":"unban","user":1,"reason":{"toString":1}}' },
  ];

  it.each(BAD_V1_FRAMES)('live.v1 frame: $name → bad_request, the socket stays open', async ({ frame }) => {
    const c = await v1('hostile-frames');
    c.send(frame);
    expect(await nextError(c)).toMatchObject({ type: 'error', code: 'bad_request' });
    // Still served: a good message comes back.
    c.send(JSON.stringify({ type: 'message', text: 'still here' }));
    for (;;) {
      const f = JSON.parse(await c.next()) as { type: string; text?: string };
      if (f.type === 'message' && f.text === 'still here') break;
    }
    await c.close();
  });

  it('moderation commands from a socket that does not moderate: forbidden, nothing done, the socket stays open', async () => {
    const c = await v1('hostile-moderation');
    const witness = await v1('hostile-moderation');
    c.send(JSON.stringify({ type: 'message', text: 'keep me' }));
    let kept: number | undefined;
    for (;;) {
      const f = JSON.parse(await witness.next()) as { type: string; id?: number; text?: string };
      if (f.type === 'message' && f.text === 'keep me') {
        kept = f.id;
        break;
      }
    }
    for (const frame of [
      { type: 'delete', id: kept },
      { type: 'kick', user: 1 },
      { type: 'ban', user: 1, duration: 60 },
      { type: 'mute', user: 1 },
    ]) {
      c.send(JSON.stringify(frame));
      expect(await nextError(c)).toEqual({
        type: 'error',
        code: 'forbidden',
        message: 'Only moderators of this room may do that',
      });
    }
    const page = (await (
      await fetch(`http://127.0.0.1:${t.port}/chat/rooms/hostile-moderation/messages`)
    ).json()) as {
      messages: { text: string }[];
    };
    expect(page.messages.map((m) => m.text)).toEqual(['keep me']);
    await Promise.all([c.close(), witness.close()]);
  });

  it('lone UTF-16 surrogates in a live.v1 JSON text: U+FFFD for the room, both protocols, and in the history', async () => {
    const room = 'hostile-surrogates';
    const c = await v1(room);
    const plain = await openWs(`${wsBase}/chat/${room}/`);
    await plain.next();
    // JSON lets a text carry what UTF-8 cannot: a high surrogate alone, a low one alone, reversed.
    c.send('{"type":"message","text":"a\\ud83d b\\ude00 c\\ude00\\ud83d"}');
    const expected = 'a\ufffd b\ufffd c\ufffd\ufffd';
    for (;;) {
      const f = JSON.parse(await c.next()) as { type: string; text?: string };
      if (f.type === 'message') {
        expect(f.text).toBe(expected);
        break;
      }
    }
    expect(await plain.next()).toBe(`<Anonymous troll> ${expected}`);
    await eventually(async () => {
      const page = (await (await fetch(`http://127.0.0.1:${t.port}/chat/rooms/${room}/messages`)).json()) as {
        messages: { text: string }[];
      };
      return page.messages.length === 1 && page.messages[0].text === expected;
    }, 5000);
    await Promise.all([c.close(), plain.close()]);
  });

  it('closes 1003 on a binary frame, 1007 on invalid UTF-8, 1009 on an oversize frame', async () => {
    const binary = await openWs(`${wsBase}/chat/hostile-close/`);
    await binary.next();
    binary.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await binary.closed).code).toBe(1003);

    const utf8 = await openWs(`${wsBase}/chat/hostile-close/`);
    await utf8.next();
    // A text frame whose payload is not UTF-8: ws lets a Buffer be sent as text.
    utf8.ws.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false });
    expect((await utf8.closed).code).toBe(1007);

    const big = await openWs(`${wsBase}/chat/hostile-close/`);
    await big.next();
    big.ws.send('x'.repeat(70_000));
    expect((await big.closed).code).toBe(1009);
  });

  it('a peer that vanishes mid-frame or sends garbage bytes does not disturb the room', async () => {
    const watcher = await openWs(`${wsBase}/chat/hostile-garbage/`);
    expect(await watcher.next()).toBe('Bienvenue Anonymous troll !');
    // Garbage after a valid handshake: not a WebSocket frame.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(t.port, '127.0.0.1', () => {
        socket.write(
          `GET /chat/hostile-garbage/ HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\nUpgrade: websocket\r\n` +
            'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
      });
      let seen = '';
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        if (seen.includes('\r\n\r\n') && !socket.writableEnded) {
          // Reserved opcode, a length header that lies, then the connection drops mid-frame.
          socket.write(Buffer.from([0x8f, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3]));
          socket.end();
        }
      });
      socket.on('close', () => resolve(seen.split('\r\n')[0]));
      socket.on('error', reject);
    });
    expect(answer).toBe('HTTP/1.1 101 Switching Protocols');
    const sender = await openWs(`${wsBase}/chat/hostile-garbage/`);
    await sender.next();
    sender.send('after the garbage');
    for (;;) if ((await watcher.next()) === '<Anonymous troll> after the garbage') break;
    await Promise.all([watcher.close(), sender.close()]);
  });

  it('is still healthy and serving after the whole corpus', async () => {
    const res = await fetch(`http://127.0.0.1:${t.port}/health`);
    expect(res.status).toBe(200);
    const c = await openWs(`${wsBase}/chat/after-corpus/`);
    expect(await c.next()).toBe('Bienvenue Anonymous troll !');
    c.send('hi');
    expect(await c.next()).toBe('<Anonymous troll> hi');
    await c.close();
    expect(c.ws.readyState).toBe(WebSocket.CLOSED);
  });
});
