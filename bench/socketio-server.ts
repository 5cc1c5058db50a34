/**
 * The Socket.IO reference: the chat server a Node developer would write with Socket.IO v4, speaking
 * the seed protocol's content (welcome `Bienvenue Anonymous troll !`, every `message` event
 * broadcast to the room, sender included, as `<Anonymous troll> text`). The room comes from the
 * handshake query (`/socket.io/?EIO=4&transport=websocket&room=<name>`); WebSocket transport only,
 * no per-message deflate. GET /health answers 200 (the bench waits for it).
 *
 * With `--redis URL --prefix P`, rooms are shared between processes by @socket.io/redis-adapter
 * (its pub/sub channels start with P).
 *
 * Run alone: `node -r ts-node/register/transpile-only bench/socketio-server.ts PORT [--redis URL --prefix P]`.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server } from 'socket.io';

const NAME = 'Anonymous troll';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { redis: { type: 'string' }, prefix: { type: 'string', default: 'socket.io' } },
  });
  const port = Number(positionals[0] ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: socketio-server.ts PORT [--redis redis://host:port --prefix P]\n');
    process.exit(2);
  }

  const httpServer = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') res.writeHead(200).end('ok');
    else res.writeHead(404).end();
  });
  const io = new Server(httpServer, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
  });

  let pub: Redis | undefined;
  let sub: Redis | undefined;
  if (values.redis) {
    pub = new Redis(values.redis);
    sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub, { key: values.prefix }));
    // Listen once both connections are up, so no client joins before the subscription is on its way.
    await Promise.all(
      [pub, sub].map(
        (client) =>
          new Promise<void>((resolve, reject) => {
            if (client.status === 'ready') return resolve();
            client.once('ready', () => resolve());
            client.once('error', reject);
          }),
      ),
    );
  }

  io.on('connection', (socket) => {
    const room = socket.handshake.query.room;
    if (typeof room !== 'string' || room === '') {
      socket.disconnect(true);
      return;
    }
    void socket.join(room);
    socket.emit('message', `Bienvenue ${NAME} !`);
    socket.on('message', (text: unknown) => {
      if (typeof text !== 'string') return;
      io.to(room).emit('message', `<${NAME}> ${text}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = httpServer.address();
  process.stdout.write(
    JSON.stringify({ event: 'listening', port: typeof addr === 'object' && addr ? addr.port : port }) + '\n',
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    httpServer.closeAllConnections();
    void io
      .close()
      .then(async () => {
        await pub?.quit().catch(() => undefined);
        await sub?.quit().catch(() => undefined);
        process.exit(0);
      })
      .catch((err: Error) => {
        process.stderr.write(`socketio: close: ${err.message}\n`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`socketio: ${err.message}\n`);
  process.exit(1);
});
