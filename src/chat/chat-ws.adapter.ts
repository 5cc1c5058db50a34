import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { INestApplicationContext, Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type WebSocket from 'ws';
import type { WebSocketServer } from 'ws';
import { clientAddress, pathOf } from '../common/access-log';
import { waitAtMost } from '../common/deadline';
import { AppConfig } from '../config/app.config';
import { ProxyTrust, proxyTrust } from '../config/trust-proxy';
import { ChatConfig } from './chat.config';
import { CLOSE, LIVE_V1 } from './chat.protocol';
import type { ChatJoin } from './chat.service';
import { ChatUpgradeHandler } from './chat-upgrade';
import { describeFastPath } from './raw-frame';

export const CHAT_JOIN = Symbol('chatJoin');
/** At shutdown, how long a socket ChatService did not close itself gets to answer 1001. */
const LATE_CLOSE_GRACE_MS = 1000;
/** nginx's status for a client that went away before it was answered. */
const CLIENT_GONE = 499;
export type UpgradedRequest = IncomingMessage & { [CHAT_JOIN]?: ChatJoin };

const REASONS: Record<number, string> = {
  [CLOSE.badUtf8.code]: CLOSE.badUtf8.reason,
  [CLOSE.tooBig.code]: CLOSE.tooBig.reason,
};

function refuse(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ statusCode: status, error: STATUS_TEXT[status] ?? 'Error', message });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * The stock WsAdapter matches fixed paths only (and destroys everything else). This one routes every
 * `/chat/<room>/` upgrade to the chat gateway's server after ChatUpgradeHandler accepts it, answers
 * refusals with a real HTTP status, and asks ws for the limits and subprotocol live needs.
 */
export class ChatWsAdapter extends WsAdapter {
  private readonly log = new Logger('ChatUpgrade');
  private upgradeListener: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | null = null;
  private server: Server | null = null;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): WebSocketServer {
    const chat = this.app.get(ChatConfig);
    // Broadcasts write pre-built frames through ws internals (raw-frame.ts); say whether this ws
    // still has them, since without them every send silently takes the slower ordinary path.
    const fastPath = describeFastPath();
    if (fastPath.active) this.log.log({ event: 'ws_fast_path', ...fastPath });
    else this.log.warn({ event: 'ws_fast_path', ...fastPath });
    return super.create(port, {
      ...options,
      maxPayload: chat.maxMessageBytes,
      perMessageDeflate: false,
      handleProtocols: (protocols: Set<string>) => (protocols.has(LIVE_V1) ? LIVE_V1 : false),
    }) as WebSocketServer;
  }

  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    if (this.httpServersRegistry.has(port)) return undefined;
    const server = httpServer ?? (super.ensureHttpServerExists(port) as Server);
    this.httpServersRegistry.set(port, server);
    this.server = server;
    this.upgradeListener = (req, socket, head) => void this.route(port, req, socket, head);
    server.on('upgrade', this.upgradeListener);
    return server;
  }

  private upgradeHandler: ChatUpgradeHandler | undefined;
  private proxyTrust: ProxyTrust | undefined;

  private async route(port: number, req: UpgradedRequest, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const answered = (status: number, subprotocol: string | null = null) =>
      this.logHandshake(req, status, started, subprotocol);
    socket.on('error', () => socket.destroy());
    try {
      // Resolved once: the container lookup is not free at thousands of connects per second.
      const handler: ChatUpgradeHandler = (this.upgradeHandler ??= this.app.get(
        ChatUpgradeHandler,
      ) as ChatUpgradeHandler);
      const verdict = await handler.check(req);
      if (!verdict.ok) {
        refuse(socket, verdict.status, verdict.message, verdict.headers);
        return answered(verdict.status);
      }
      const wsServer = (this.wsServersRegistry.get(port) ?? [])[0] as WebSocketServer | undefined;
      if (!wsServer) {
        refuse(socket, 503, 'Chat is not ready');
        return answered(503);
      }
      if (socket.destroyed) return answered(CLIENT_GONE);
      req[CHAT_JOIN] = verdict.join;
      // ws writes the 101 response and the gateway the welcome within this call: corked, they leave
      // in one write instead of two (one syscall less per handshake, ~10 % of a connect's CPU).
      socket.cork();
      try {
        wsServer.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          withCloseReasons(ws);
          answered(101, ws.protocol || null);
          wsServer.emit('connection', ws, req);
        });
      } finally {
        socket.uncork();
      }
    } catch (err) {
      this.log.error({ event: 'upgrade_failed', path: pathOf(req.url), error: (err as Error).message });
      refuse(socket, 500, 'Upgrade failed');
      answered(500);
    }
  }

  /** The access line of a handshake, as the HTTP access log's (the query is left out: it may hold secrets). */
  private logHandshake(req: IncomingMessage, status: number, started: number, subprotocol: string | null) {
    const trust = (this.proxyTrust ??= proxyTrust(this.app.get(AppConfig).trustProxy));
    const line = {
      event: 'ws_handshake',
      path: pathOf(req.url),
      status,
      durationMs: Math.round(performance.now() - started),
      remoteAddress: clientAddress(req, trust),
      subprotocol,
    };
    if (status >= 500) this.log.warn(line);
    else this.log.log(line);
  }

  /** A client's protocol error (bad UTF-8, oversize frame) is its problem, not a server error. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (ws: WebSocket) =>
      ws.on('error', (err: Error & { code?: string }) =>
        this.log.debug({ event: 'client_protocol_error', code: err.code, error: err.message }),
      ),
    );
    server.on('error', (err: Error) => this.log.error({ event: 'ws_server_error', error: err.message }));
    return server;
  }

  /**
   * Nest's JSON {event,data} routing is bypassed: ChatGateway.handleConnection hands each socket to
   * ChatService.connect, whose ChatConnection (chat-connection.ts) binds the socket's message, pong
   * and close events and parses its frames itself.
   */
  override bindMessageHandlers(): void {}

  /**
   * Nest calls this after the application's shutdown hooks, and the stock version terminates every
   * client at once. ChatService has already sent its sockets 1001 and waited for them; a socket
   * still open here (upgraded late, or not a chat socket) is closed with 1001 too and gets a
   * bounded moment to answer before it is terminated, so no peer sees 1006 for a clean shutdown.
   */
  override async close(server: WebSocketServer): Promise<void> {
    const open = [...server.clients].filter((ws) => ws.readyState !== ws.CLOSED);
    if (open.length > 0) {
      const closed = open.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
      for (const ws of open)
        if (ws.readyState === ws.OPEN) ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
      await waitAtMost(Promise.all(closed), LATE_CLOSE_GRACE_MS);
    }
    await super.close(server);
  }

  override async dispose(): Promise<void> {
    if (this.server && this.upgradeListener) this.server.off('upgrade', this.upgradeListener);
    await super.dispose();
  }
}

/** ws closes for invalid UTF-8 (1007) and oversize frames (1009) without a reason; add one. */
function withCloseReasons(ws: WebSocket): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) =>
    close(code, reason ?? (code !== undefined ? REASONS[code] : undefined));
}
