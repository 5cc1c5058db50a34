import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, ForbiddenException, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig } from '../config/app.config';
import { CSRF_HEADER, LiveRequest } from './auth.types';
import { secureRequestOriginFailure } from './csrf-origin';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,64}$/;
const CSRF_ALWAYS = 'live:csrf-always';
/** Django's CSRF_ALLOWED_CHARS, in its order (the masking arithmetic depends on it). */
const CSRF_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const DJANGO_MASKED = /^[a-zA-Z0-9]{64}$/;

/**
 * Marks a handler CSRF-checked even without a session cookie (Django protects login too). The
 * guard reads it from the route that matched, so `/auth/login/`, `/AUTH/LOGIN` or any other
 * spelling Express routes to the handler is checked alike.
 */
export const CsrfAlways = (): MethodDecorator & ClassDecorator => SetMetadata(CSRF_ALWAYS, true);

/** A new token as Django ≥ 4.1 keeps in its cookie: a 32-character secret of CSRF_CHARS. */
export function newCsrfToken(): string {
  let token = '';
  while (token.length < 32) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && token.length < 32) token += CSRF_CHARS[byte % 62]; // 248 = 4 × 62: no bias
    }
  }
  return token;
}

/**
 * The secret a token stands for, as Django compares them: a 64-character token (Django ≤ 4.0
 * cookies, `{% csrf_token %}` and header values) is a mask followed by the secret shifted by it;
 * a 32-character one is the secret itself. Earlier live tokens (base64url) stand for themselves.
 */
export function csrfSecret(token: string): string {
  if (!DJANGO_MASKED.test(token)) return token;
  let secret = '';
  for (let i = 0; i < 32; i++) {
    const masked = CSRF_CHARS.indexOf(token[32 + i]);
    const mask = CSRF_CHARS.indexOf(token[i]);
    secret += CSRF_CHARS[(masked - mask + 62) % 62];
  }
  return secret;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Django's CsrfViewMiddleware on unsafe methods of cookie-authenticated requests (and on login): over
 * HTTPS the Origin (or Referer) must be this site or in CSRF_TRUSTED_ORIGINS; then the X-CSRFToken
 * header must stand for the same secret as the CSRF cookie (masked or not, so a page served by a
 * Django site on the same domain can post to live).
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (SAFE_METHODS.has(req.method)) return true;
    // A token request carries no cookie a browser would add by itself: nothing to forge.
    if (req.apiToken) return true;
    const always = this.reflector.getAllAndOverride<boolean>(CSRF_ALWAYS, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!req.cookies[this.config.sessionCookieName] && !always) return true;
    // Django 4.0+ checks the Origin before the token (over plain HTTP too; live, like 3.2, only over HTTPS).
    if (req.secure) {
      const { origin, referer, host } = req.headers;
      const failure = secureRequestOriginFailure({ origin, referer, host }, this.config.csrfTrustedOrigins);
      if (failure) throw new ForbiddenException(`CSRF Failed: ${failure}`);
    }
    const cookie = req.cookies[this.config.csrfCookieName];
    const header = req.headers[CSRF_HEADER];
    if (!cookie || !TOKEN_PATTERN.test(cookie))
      throw new ForbiddenException('CSRF Failed: CSRF cookie not set.');
    if (typeof header !== 'string' || header === '')
      throw new ForbiddenException('CSRF Failed: CSRF token missing.');
    if (!sameToken(csrfSecret(cookie), csrfSecret(header)))
      throw new ForbiddenException('CSRF Failed: CSRF token incorrect.');
    return true;
  }
}
