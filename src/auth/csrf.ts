import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, ForbiddenException, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { CSRF_COOKIE, CSRF_HEADER, LiveRequest, SESSION_COOKIE } from './auth.types';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{32,64}$/;
const CSRF_ALWAYS = 'live:csrf-always';

/**
 * Marks a handler CSRF-checked even without a session cookie (Django protects login too). The
 * guard reads it from the route that matched, so `/auth/login/`, `/AUTH/LOGIN` or any other
 * spelling Express routes to the handler is checked alike.
 */
export const CsrfAlways = (): MethodDecorator & ClassDecorator => SetMetadata(CSRF_ALWAYS, true);

export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The csrftoken cookie is readable by the page (not HttpOnly), as Django's is. */
export function setCsrfCookie(req: LiveRequest, res: Response, token: string): void {
  res.cookie(CSRF_COOKIE, token, {
    httpOnly: false,
    sameSite: 'lax',
    secure: req.secure,
    path: '/',
    maxAge: 365 * 24 * 3600 * 1000,
  });
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Django-style double-submit check: on unsafe methods of cookie-authenticated requests (and on login),
 * the X-CSRFToken header must equal the csrftoken cookie.
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (SAFE_METHODS.has(req.method)) return true;
    const always = this.reflector.getAllAndOverride<boolean>(CSRF_ALWAYS, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!req.cookies[SESSION_COOKIE] && !always) return true;
    const cookie = req.cookies[CSRF_COOKIE];
    const header = req.headers[CSRF_HEADER];
    if (!cookie || !TOKEN_PATTERN.test(cookie))
      throw new ForbiddenException('CSRF Failed: CSRF cookie not set.');
    if (typeof header !== 'string' || header === '')
      throw new ForbiddenException('CSRF Failed: CSRF token missing.');
    if (!sameToken(cookie, header)) throw new ForbiddenException('CSRF Failed: CSRF token incorrect.');
    return true;
  }
}
