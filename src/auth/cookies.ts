import type { CookieOptions, Request, Response } from 'express';
import { AppConfig } from '../config/app.config';
import { needsSecure } from '../config/cookie-settings';

type CookieSettings = Pick<
  AppConfig,
  | 'sessionCookieName'
  | 'sessionCookieDomain'
  | 'sessionCookieSecure'
  | 'sessionCookieSameSite'
  | 'sessionCookieAge'
  | 'csrfCookieName'
>;

/** Django's CSRF_COOKIE_AGE: a year. */
const CSRF_COOKIE_AGE_MS = 365 * 24 * 3600 * 1000;

/**
 * The session cookie's attributes from the SESSION_COOKIE_* settings. Unless SESSION_COOKIE_SECURE
 * says, it is Secure when the request came over TLS, and always when SameSite=None or its name has
 * a `__Secure-`/`__Host-` prefix, which browsers keep only when Secure.
 */
export function sessionCookieOptions(config: CookieSettings, req: Request): CookieOptions {
  const secure =
    config.sessionCookieSecure ??
    (req.secure || config.sessionCookieSameSite === 'none' || needsSecure(config.sessionCookieName));
  return {
    httpOnly: true,
    sameSite: config.sessionCookieSameSite,
    secure,
    path: '/',
    ...(config.sessionCookieDomain ? { domain: config.sessionCookieDomain } : {}),
    maxAge: config.sessionCookieAge * 1000,
  };
}

/**
 * The CSRF cookie, as Django's defaults make it: readable by the page (not HttpOnly), SameSite=Lax,
 * host-only, Secure over TLS (or when its name's prefix requires it).
 */
export function csrfCookieOptions(config: CookieSettings, req: Request): CookieOptions {
  return {
    httpOnly: false,
    sameSite: 'lax',
    secure: req.secure || needsSecure(config.csrfCookieName),
    path: '/',
    maxAge: CSRF_COOKIE_AGE_MS,
  };
}

export function setSessionCookie(config: CookieSettings, req: Request, res: Response, key: string): void {
  res.cookie(config.sessionCookieName, key, sessionCookieOptions(config, req));
}

/** Clears it with the attributes it was set with (a Domain cookie is only removed by one). */
export function clearSessionCookie(config: CookieSettings, req: Request, res: Response): void {
  const { maxAge: _unused, ...attributes } = sessionCookieOptions(config, req);
  res.clearCookie(config.sessionCookieName, attributes);
}

export function setCsrfCookie(config: CookieSettings, req: Request, res: Response, token: string): void {
  res.cookie(config.csrfCookieName, token, csrfCookieOptions(config, req));
}
