import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  BadRequestException,
  HttpException,
  PayloadTooLargeException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { json } from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * The rules every request meets before any guard, pipe or controller sees it (hostile-input
 * hardening): a JSON body is at most 1 MB once decompressed and at most MAX_JSON_DEPTH levels
 * deep; no string, key or URL carries a NUL; no key is `__proto__`, `constructor` or `prototype`.
 * Each refusal is a 4xx with the usual `{statusCode, error, message}` body.
 */

/** Objects and arrays nested deeper than this are refused (class-transformer recurses per level). */
export const MAX_JSON_DEPTH = 32;
/**
 * Keys per object and items per array. class-validator's whitelist and @ArrayUnique are quadratic:
 * 60,000 keys or 50,000 array items (well under 1 MB) held the event loop for seconds.
 */
export const MAX_JSON_ITEMS = 1000;
const JSON_TOO_WIDE = `JSON objects and arrays may hold at most ${MAX_JSON_ITEMS} items`;
export const JSON_BODY_LIMIT = '1mb';
export const JSON_TOO_DEEP = `JSON nesting too deep: at most ${MAX_JSON_DEPTH} levels of objects and arrays`;

/** Keys that reach prototypes: refused anywhere in a body or query, like any unknown field. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

interface ParserError {
  status?: unknown;
  type?: unknown;
  code?: unknown;
}

/**
 * body-parser's errors as HTTP exceptions with fixed messages (the filter then answers them).
 *
 * Content-Encoding: gzip, deflate and br bodies are accepted (body-parser inflates them and the
 * 1 MB limit applies to the inflated bytes, so a zip bomb stops at 1 MB); a body that does not
 * decompress is a 400, an encoding body-parser does not know is a 415.
 */
export function bodyParserException(err: unknown): HttpException {
  const e = (err ?? {}) as ParserError;
  const code = typeof e.code === 'string' ? e.code : '';
  switch (e.type) {
    case 'entity.too.large':
      return new PayloadTooLargeException(`Request body is too large (at most ${JSON_BODY_LIMIT})`);
    case 'encoding.unsupported':
      return new UnsupportedMediaTypeException(
        'Unsupported Content-Encoding: send the body as identity, gzip, deflate or br',
      );
    case 'charset.unsupported':
      return new UnsupportedMediaTypeException('Unsupported charset: JSON bodies must be UTF-8');
    case 'entity.parse.failed':
      return new BadRequestException('Malformed JSON in request body');
    case 'request.aborted':
    case 'request.size.invalid':
      return new BadRequestException('Request body is incomplete (Content-Length not matched)');
  }
  // zlib and brotli stream errors carry no body-parser type, only their own code.
  if (code.startsWith('Z_') || code.startsWith('ERR__') || code.includes('BROTLI'))
    return new BadRequestException('Request body could not be decompressed (Content-Encoding)');
  // content-type's parser throws a TypeError on a malformed header, before anything is read.
  if (err instanceof TypeError) return new BadRequestException('Malformed Content-Type header');
  const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 400;
  return new HttpException('Unreadable request body', status);
}

/** The JSON body parser, its errors (thrown or passed on) turned into HTTP exceptions. */
export function jsonBodyParser(): RequestHandler {
  const parse = json({ limit: JSON_BODY_LIMIT });
  return (req: Request, res: Response, next: NextFunction) => {
    try {
      parse(req, res, (err?: unknown) => (err ? next(bodyParserException(err)) : next()));
    } catch (err) {
      next(bodyParserException(err));
    }
  };
}

/**
 * The first rule a value breaks, or null. Iterative (a deep value cannot overflow the stack):
 * nesting depth, forbidden keys, NUL in keys and strings.
 */
export function hostileValueProblem(value: unknown, root: string, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: root }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${item.path || 'value'} must not contain NUL (U+0000) characters`;
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) return JSON_TOO_DEEP;
    if (Array.isArray(v)) {
      if (v.length > MAX_JSON_ITEMS) return JSON_TOO_WIDE;
      v.forEach((el, i) => stack.push({ value: el, depth, path: `${item.path}[${i}]` }));
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > MAX_JSON_ITEMS) return JSON_TOO_WIDE;
    for (const key of keys) {
      if (FORBIDDEN_KEYS.has(key)) return `property ${key} should not exist`;
      if (key.includes('\u0000')) return 'property names must not contain NUL (U+0000) characters';
      const path = item.path ? `${item.path}.${key}` : key;
      stack.push({ value: (v as Record<string, unknown>)[key], depth, path });
    }
  }
  return null;
}

/** Refuses NUL anywhere in the URL, the query or the JSON body, and prototype keys, with a 400. */
export function rejectHostileInput(req: Request, _res: Response, next: NextFunction): void {
  // The raw path: route parameters are decoded from it, so a NUL (`%00`) or a broken escape would
  // reach a handler or the router's decoder.
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new BadRequestException('Malformed percent-encoding in the URL'));
  }
  if (path.includes('\u0000')) return next(new BadRequestException('The URL must not contain NUL (%00)'));
  let problem: string | null;
  try {
    problem = hostileValueProblem(req.query, '') ?? hostileValueProblem(req.body, '');
  } catch {
    problem = 'Malformed query string';
  }
  if (problem) {
    // Field rules answer lists (like the ValidationPipe); the size rules are one message.
    const whole = problem === JSON_TOO_DEEP || problem === JSON_TOO_WIDE;
    return next(new BadRequestException(whole ? problem : [problem]));
  }
  next();
}

/**
 * Express error middleware: an http-errors error from the middleware before it (serve-static's 416
 * for an unsatisfiable Range, say) becomes the HttpException of its status, not a 500. Anything
 * else goes on to the filter unchanged.
 */
export function httpErrorsAsExceptions(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const e = err as {
    status?: unknown;
    statusCode?: unknown;
    expose?: unknown;
    message?: unknown;
    headers?: unknown;
  };
  const status = typeof e?.status === 'number' ? e.status : e?.statusCode;
  if (err instanceof HttpException || typeof status !== 'number' || status < 400 || status >= 500)
    return next(err);
  if (!res.headersSent) {
    // serve-static had labelled the response as the file it meant to send.
    for (const name of ['Content-Type', 'ETag', 'Last-Modified']) res.removeHeader(name);
    // Headers the error asks for (Content-Range on a 416).
    if (typeof e.headers === 'object' && e.headers !== null)
      for (const [name, value] of Object.entries(e.headers))
        if (typeof value === 'string') res.setHeader(name, value);
  }
  const message = e.expose === true && typeof e.message === 'string' ? e.message : 'Bad request';
  next(new HttpException(message, status));
}

/** `/.well-known/acme-challenge/<token>`, exactly: no dot segment, no encoding, no extra slash. */
const ACME_CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/[A-Za-z0-9_-]{1,256}$/;

/**
 * Whether a request may skip ALLOWED_HOSTS: only a GET/HEAD for one ACME http-01 token (the CA asks
 * with the Host being certified). `req.path` is the raw, undecoded path, so `../`, `%2e%2e`,
 * `%2F` and the like never match and get the Host check like any other request.
 */
export function isAcmeChallengeRequest(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && ACME_CHALLENGE_PATH.test(req.path);
}

interface SocketWithResponse extends Duplex {
  _httpMessage?: { headersSent?: boolean } | null;
}

function rawJsonResponse(statusCode: number, reason: string, message: string): string {
  const body = JSON.stringify({ statusCode, error: reason, message });
  return (
    `HTTP/1.1 ${statusCode} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * What Node's HTTP server answers by itself gets the same JSON error body as everything else:
 * requests its parser refuses (headers over 16 KB, a URL too long, bad bytes), an `Expect` other
 * than 100-continue (417), and an HTTP/1.1 request without Host, which Node would refuse with an
 * empty 400 and now reaches the ALLOWED_HOSTS check (400 "Invalid Host header").
 */
export function answerClientErrorsAsJson(server: Server): void {
  // Node's `requireHostHeader` option, stored on the server and read per request.
  (server as Server & { requireHostHeader?: boolean }).requireHostHeader = false;
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' });
    res.end(
      JSON.stringify({
        statusCode: 417,
        error: 'Expectation Failed',
        message: 'Only "Expect: 100-continue" is supported',
      }),
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: SocketWithResponse) => {
    if (err.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const [statusCode, reason, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'Request line and headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'Request timed out']
          : [400, 'Bad Request', 'Malformed HTTP request'];
    socket.end(rawJsonResponse(statusCode, reason, message));
  });
}
