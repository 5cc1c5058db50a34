import { createServer, Server, Socket, connect } from 'node:net';

export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

/**
 * A TCP proxy a fault test controls, in front of PostgreSQL or Redis:
 * - `pass`: bytes flow both ways;
 * - `refuse`: the port is closed (new connections get ECONNREFUSED) and open connections are reset;
 * - `blackhole`: connections are accepted and stay open, but no byte is delivered either way, on new
 *   and existing connections alike (a partition: TCP holds the bytes and retransmits them). Held
 *   bytes are delivered on `heal()`, as retransmission would: an end that closed gracefully (FIN)
 *   meanwhile still has its bytes, then its FIN, delivered; one that was reset or destroyed
 *   outright takes its undelivered bytes with it, and the other end is closed at the heal.
 * `heal()` goes back to `pass` (re-opening the same port after `refuse`).
 */
export interface TcpProxy {
  readonly port: number;
  readonly host: string;
  /** host:port of the proxy, for a URL. */
  readonly address: string;
  readonly mode: ProxyMode;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  refuse(): Promise<void>;
  blackhole(): void;
  heal(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes held during a black hole, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
  /** A side that ended while black-holed: its end is delivered at heal. */
  clientEnded: boolean;
  upstreamEnded: boolean;
  closed: boolean;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = '127.0.0.1';
  const targetHost = target.host ?? '127.0.0.1';
  let mode: ProxyMode = 'pass';
  let accepted = 0;
  const pairs = new Set<Pair>();
  let server: Server = createServer({ allowHalfOpen: true });
  let port = 0;

  const destroyPair = (p: Pair, reset: boolean) => {
    if (p.closed) return;
    p.closed = true;
    pairs.delete(p);
    if (reset) {
      p.client.resetAndDestroy();
      // Only the app's side is reset; the real server's side is merely closed. (On Node 20,
      // resetAndDestroy() on this outgoing socket left the event loop spinning at 100 % CPU after
      // the test, so jest never exited.)
      p.upstream.destroy();
    } else {
      p.client.destroy();
      p.upstream.destroy();
    }
  };

  const onConnection = (client: Socket) => {
    accepted++;
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = connect({ host: targetHost, port: target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    const p: Pair = {
      client,
      upstream,
      toUpstream: [],
      toClient: [],
      clientEnded: false,
      upstreamEnded: false,
      closed: false,
    };
    pairs.add(p);
    client.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') p.toUpstream.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') p.toClient.push(chunk);
      else client.write(chunk);
    });
    // A close during a black hole is not passed on (the other end would learn nothing either);
    // a close at any other time is.
    client.on('end', () => {
      if (mode === 'blackhole') p.clientEnded = true;
      else upstream.end();
    });
    upstream.on('end', () => {
      if (mode === 'blackhole') p.upstreamEnded = true;
      else client.end();
    });
    const onGone = (side: 'client' | 'upstream') => () => {
      if (mode === 'blackhole') {
        // The undelivered bytes of the side that left are gone with it.
        if (side === 'client') {
          p.toUpstream = [];
          p.clientEnded = true;
        } else {
          p.toClient = [];
          p.upstreamEnded = true;
        }
        return;
      }
      destroyPair(p, false);
    };
    client.on('close', onGone('client'));
    upstream.on('close', onGone('upstream'));
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  };

  const listen = (wanted: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer({ allowHalfOpen: true }, onConnection);
      server.once('error', reject);
      server.listen(wanted, host, () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });

  const closeServer = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  await listen(0);

  const self: TcpProxy = {
    get port() {
      return port;
    },
    host,
    get address() {
      return `${host}:${port}`;
    },
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    async refuse() {
      mode = 'refuse';
      for (const p of [...pairs]) destroyPair(p, true);
      await closeServer();
    },
    blackhole() {
      mode = 'blackhole';
    },
    async heal() {
      const was = mode;
      mode = 'pass';
      if (was === 'refuse') {
        // Same port again; retry briefly if the kernel has not let go of it yet.
        for (let attempt = 0; ; attempt++) {
          try {
            await listen(port);
            break;
          } catch (err) {
            if (attempt >= 20) throw err;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
      for (const p of [...pairs]) {
        const clientGone = p.client.destroyed;
        const upstreamGone = p.upstream.destroyed;
        if (!clientGone) for (const chunk of p.toClient.splice(0)) p.client.write(chunk);
        if (!upstreamGone) for (const chunk of p.toUpstream.splice(0)) p.upstream.write(chunk);
        if (clientGone || upstreamGone) destroyPair(p, false);
        else {
          if (p.clientEnded) p.upstream.end();
          if (p.upstreamEnded) p.client.end();
        }
      }
    },
    async close() {
      mode = 'refuse';
      for (const p of [...pairs]) destroyPair(p, false);
      await closeServer();
    },
  };
  return self;
}
