/**
 * The raw `ws` baseline: a Map of rooms to Sets of sockets and nothing else, speaking the seed
 * protocol (welcome `Bienvenue Anonymous troll !`, every text frame broadcast to the room, sender
 * included, as `<Anonymous troll> text`). live is measured against this.
 *
 * Run alone: `node -r ts-node/register/transpile-only bench/baseline-server.ts PORT [--cork]`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

const NAME = 'Anonymous troll';
const CHAT_PATH = /^\/chat\/([^/?]+)\/(\?.*)?$/;

export interface BaselineServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

/**
 * With `cork`, each socket's writes of one event-loop turn are coalesced (cork on the first write,
 * uncork in setImmediate): one writev per socket per turn instead of one write per message. This is
 * not the baseline the issue asks for; it is the experiment behind a suggested fix (bench/RESULTS.md).
 */
export function startBaseline(port = 0, host = '127.0.0.1', cork = false): Promise<BaselineServer> {
  const rooms = new Map<string, Set<WebSocket>>();
  const corked = new Set<Socket>();
  const uncorkAll = () => {
    for (const s of corked) s.uncork();
    corked.clear();
  };
  const send = (peer: WebSocket, frame: Buffer) => {
    if (cork) {
      // `_socket` is private to ws 8; fine for an experiment, not for live's code without a guard.
      const socket = (peer as unknown as { _socket?: Socket })._socket;
      if (socket && !corked.has(socket)) {
        if (corked.size === 0) setImmediate(uncorkAll);
        socket.cork();
        corked.add(socket);
      }
    }
    peer.send(frame, { binary: false });
  };
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });

  server.on('upgrade', (req, socket, head) => {
    const match = CHAT_PATH.exec(req.url ?? '');
    if (!match) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const room = match[1];
    wss.handleUpgrade(req, socket, head, (ws) => {
      let members = rooms.get(room);
      if (!members) rooms.set(room, (members = new Set()));
      members.add(ws);
      ws.send(`Bienvenue ${NAME} !`);
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const frame = Buffer.from(`<${NAME}> ${data.toString('utf8')}`);
        for (const peer of rooms.get(room) ?? []) if (peer.readyState === WebSocket.OPEN) send(peer, frame);
      });
      ws.on('close', () => {
        const m = rooms.get(room);
        if (m?.delete(ws) && m.size === 0) rooms.delete(room);
      });
      ws.on('error', () => ws.terminate());
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        server,
        close: () =>
          new Promise<void>((done) => {
            for (const c of wss.clients) c.terminate();
            wss.close();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

if (require.main === module) {
  const port = Number(process.argv[2] ?? '0');
  const cork = process.argv.includes('--cork');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: baseline-server.ts PORT [--cork]\n');
    process.exit(2);
  }
  startBaseline(port, '127.0.0.1', cork)
    .then((b) => {
      process.stdout.write(JSON.stringify({ event: 'listening', port: b.port }) + '\n');
      const stop = () => void b.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    })
    .catch((err: Error) => {
      process.stderr.write(`baseline: ${err.message}\n`);
      process.exit(1);
    });
}
