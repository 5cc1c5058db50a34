import { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { Socket } from 'node:net';
import { dependencies } from '../../package.json';
import { describeFastPath, missingInternals, preframeText, sendPreframed, WriteCoalescer } from './raw-frame';

describe('pre-framed text frames', () => {
  let server: WebSocketServer;
  let serverSide: WebSocket;
  let client: WebSocket;
  const received: string[] = [];

  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    const connected = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    await new Promise((resolve) => server.once('listening', resolve));
    client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    client.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(false);
      received.push(data.toString('utf8'));
    });
    serverSide = await connected;
  });

  afterAll(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('arrive as the same text frames ws would send, for every payload length class', async () => {
    // 7-bit, 16-bit and 64-bit length headers, and multi-byte UTF-8.
    const texts = ['', 'héllo ☃', 'x'.repeat(125), 'y'.repeat(126), 'z'.repeat(70_000)];
    for (const text of texts) {
      const payload = Buffer.from(text);
      const framed = preframeText(payload);
      expect(framed).not.toBeNull();
      expect(framed!.length).toBeGreaterThan(payload.length);
      sendPreframed(serverSide, framed, payload);
    }
    // Interleaved with ordinary sends, order is kept.
    serverSide.send('ordinary');
    sendPreframed(serverSide, preframeText(Buffer.from('after')), Buffer.from('after'));
    await new Promise<void>((resolve) => {
      const check = () => (received.length >= texts.length + 2 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(received).toEqual([...texts, 'ordinary', 'after']);
  });

  it('falls back to an ordinary send when given no frame', async () => {
    const before = received.length;
    sendPreframed(serverSide, null, Buffer.from('fallback'));
    await new Promise((r) => setTimeout(r, 50));
    expect(received.slice(before)).toEqual(['fallback']);
  });

  it('coalesces: a lone write leaves at once, later writes of the same turn wait for setImmediate', async () => {
    const socket = (serverSide as unknown as { _socket: Socket })._socket;
    const coalescer = new WriteCoalescer();
    const before = received.length;
    const send = (text: string) => {
      coalescer.hold(serverSide);
      sendPreframed(serverSide, preframeText(Buffer.from(text)), Buffer.from(text));
    };
    send('first');
    expect(socket.writableCorked).toBe(0); // not deferred
    send('second');
    send('third');
    expect(socket.writableCorked).toBe(1);
    expect(socket.writableLength).toBeGreaterThan(0); // held in the stream until the turn ends
    await new Promise((r) => setImmediate(r));
    expect(socket.writableCorked).toBe(0);
    // The turn was busy (a socket written three times): the next one holds first writes too.
    send('busy turn');
    expect(socket.writableCorked).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(socket.writableCorked).toBe(0);
    // That turn was quiet (one write): the next first write goes out at once again.
    send('quiet turn');
    expect(socket.writableCorked).toBe(0);
    await new Promise((r) => setImmediate(r));
    await new Promise<void>((resolve) => {
      const check = () => (received.length >= before + 5 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(received.slice(before)).toEqual(['first', 'second', 'third', 'busy turn', 'quiet turn']);
  });
});

/**
 * The fast path reaches into `ws` internals and falls back to ws.send when they are not there, with
 * the same bytes on the wire: nothing but these tests would notice it stopped working after a `ws`
 * upgrade (broadcast CPU would go up by about a fifth). package.json pins ws exactly for that reason.
 */
describe('the ws fast path', () => {
  it('is active with the installed ws, which is the version package.json pins', () => {
    const report = describeFastPath();
    expect(report.missing).toEqual([]);
    expect(report).toEqual({ active: true, wsVersion: dependencies.ws, missing: [] });
  });

  it('writes raw frames on a real server socket instead of falling back to ws.send', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await new Promise((resolve) => server.once('listening', resolve));
    const connected = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const got = new Promise<string>((resolve) =>
      client.once('message', (d: Buffer) => resolve(d.toString())),
    );
    const serverSide = await connected;
    expect(missingInternals(serverSide)).toEqual([]);
    const send = jest.spyOn(serverSide, 'send');
    sendPreframed(serverSide, preframeText(Buffer.from('raw')), Buffer.from('raw'));
    expect(send).not.toHaveBeenCalled();
    expect(await got).toBe('raw');
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('names what is missing when ws internals change', () => {
    expect(missingInternals({} as WebSocket)).toEqual(['_socket', '_sender._state/_queue', '_extensions']);
  });
});
