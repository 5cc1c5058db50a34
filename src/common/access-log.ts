import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type pino from 'pino';
import { pinoHttp } from 'pino-http';
import proxyaddr from 'proxy-addr';
import type { ProxyTrust } from '../config/trust-proxy';

/** The path of a request URL without its query string (which may carry a token). */
export function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? raw : raw.slice(0, q);
}

/**
 * The client's address under TRUST_PROXY, exactly as Express computes `req.ip` (the same proxy-addr
 * and the same trust function, `proxyTrust`): for requests Express does not see (WebSocket upgrades).
 */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string | null {
  if (!req.socket.remoteAddress) return null;
  return proxyaddr(req, trust);
}

function accessFields(req: IncomingMessage, res: ServerResponse, durationMs: number) {
  const r = req as Request;
  return {
    event: 'http_request',
    method: req.method,
    path: pathOf(r.originalUrl ?? req.url),
    status: res.statusCode,
    durationMs,
    remoteAddress: r.ip ?? req.socket.remoteAddress ?? null,
  };
}

/** The fields say it all; pino leaves `msg` out when it is undefined (an empty string would print). */
const noMessage = () => undefined as unknown as string;

/**
 * One line per HTTP request when its response is finished: method, path without the query, status,
 * duration and client address; no headers and no body (so no cookie, token or password), and a
 * request id that the app's own lines during the request carry too.
 */
export function httpAccessLog(root: pino.Logger): RequestHandler {
  return pinoHttp({
    logger: root,
    quietReqLogger: true,
    quietResLogger: true,
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'warn' : 'info'),
    customSuccessObject: (req, res, val: { responseTime: number }) =>
      accessFields(req, res, val.responseTime),
    customErrorObject: (req, res, _err, val: { responseTime: number }) =>
      accessFields(req, res, val.responseTime),
    customSuccessMessage: noMessage,
    customErrorMessage: noMessage,
  }) as unknown as RequestHandler;
}
