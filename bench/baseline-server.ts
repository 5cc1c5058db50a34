/**
 * The raw `ws` baseline: a Map of rooms to Sets of sockets and nothing else, speaking the seed
 * protocol (welcome `Bienvenue Anonymous troll !`, every text frame broadcast to the room, sender
 * included, as `<Anonymous troll> text`). live is measured against this.
 *
 * Run alone: `node -r ts-node/register/transpile-only bench/baseline-server.ts PORT`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

const NAME = 'Anonymous troll';
const CHAT_PATH = /^\/chat\/([^/?]+)\/(\?.*)?$/;

export interface BaselineServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

export function startBaseline(port = 0, host = '127.0.0.1'): Promise<BaselineServer> {
  const rooms = new Map<string, Set<WebSocket>>();
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
        for (const peer of rooms.get(room) ?? [])
          if (peer.readyState === WebSocket.OPEN) peer.send(frame, { binary: false });
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
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: baseline-server.ts PORT\n');
    process.exit(2);
  }
  startBaseline(port)
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
