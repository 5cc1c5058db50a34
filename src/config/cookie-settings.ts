import { trustedOriginEntries, trustedOriginProblem } from '../auth/trusted-origins';

/**
 * What Django's cookie settings may hold here, checked at start-up: a browser silently drops a
 * cookie it finds invalid, which would look like a login that does not stick.
 */

export type SameSite = 'lax' | 'strict' | 'none';

/** The variables these rules look at, as AppEnv holds them once converted. */
export interface CookieEnv {
  SESSION_COOKIE_NAME: string;
  SESSION_COOKIE_DOMAIN?: string;
  SESSION_COOKIE_SECURE?: boolean;
  SESSION_COOKIE_SAMESITE: string;
  CSRF_COOKIE_NAME: string;
}

export const DEFAULT_SESSION_COOKIE_NAME = 'sessionid';
export const DEFAULT_CSRF_COOKIE_NAME = 'csrftoken';

/** RFC 6265's cookie-name: an RFC 2616 token (no separators, spaces or control characters). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A Domain attribute: a host name, with or without the leading dot. */
const COOKIE_DOMAIN = /^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/i;

/** Browsers keep a `__Secure-` or `__Host-` cookie only when it is Secure. */
export function needsSecure(cookieName: string): boolean {
  return cookieName.startsWith('__Secure-') || cookieName.startsWith('__Host-');
}

function tokenProblem(value: unknown): string | null {
  if (typeof value === 'string' && COOKIE_NAME.test(value) && value.length <= 256) return null;
  return "must be a cookie name: letters, digits and !#$%&'*+-.^_`|~ (an RFC 6265 token)";
}

/** The two cookies must differ; said once, of the variable that was changed. */
function collision(env: CookieEnv): boolean {
  return env.SESSION_COOKIE_NAME === env.CSRF_COOKIE_NAME;
}

export function sessionCookieNameProblem(value: unknown, env: CookieEnv): string | null {
  const token = tokenProblem(value);
  if (token) return `SESSION_COOKIE_NAME ${token}`;
  const name = value as string;
  if (collision(env) && env.CSRF_COOKIE_NAME === DEFAULT_CSRF_COOKIE_NAME)
    return 'SESSION_COOKIE_NAME must differ from CSRF_COOKIE_NAME (csrftoken)';
  if (needsSecure(name) && env.SESSION_COOKIE_SECURE === false)
    return `SESSION_COOKIE_NAME: browsers keep a ${name.startsWith('__Host-') ? '__Host-' : '__Secure-'} cookie only when it is Secure; unset SESSION_COOKIE_SECURE or set it to true`;
  if (name.startsWith('__Host-') && env.SESSION_COOKIE_DOMAIN !== undefined)
    return 'SESSION_COOKIE_NAME: a __Host- cookie cannot have a Domain; unset SESSION_COOKIE_DOMAIN or rename the cookie';
  return null;
}

export function csrfCookieNameProblem(value: unknown, env: CookieEnv): string | null {
  const token = tokenProblem(value);
  if (token) return `CSRF_COOKIE_NAME ${token}`;
  if (collision(env) && env.CSRF_COOKIE_NAME !== DEFAULT_CSRF_COOKIE_NAME)
    return `CSRF_COOKIE_NAME must differ from SESSION_COOKIE_NAME (${env.SESSION_COOKIE_NAME})`;
  return null;
}

export function sessionCookieDomainProblem(value: unknown): string | null {
  if (typeof value === 'string' && COOKIE_DOMAIN.test(value) && value.length <= 253) return null;
  return 'SESSION_COOKIE_DOMAIN must be a domain such as .example.org (no scheme, port or path)';
}

export function sameSiteProblem(value: unknown, env: CookieEnv): string | null {
  const v = typeof value === 'string' ? value.toLowerCase() : '';
  if (!['lax', 'strict', 'none'].includes(v)) return 'SESSION_COOKIE_SAMESITE must be Lax, Strict or None';
  if (v === 'none' && env.SESSION_COOKIE_SECURE === false)
    return 'SESSION_COOKIE_SAMESITE=None needs a Secure cookie (browsers drop it otherwise); unset SESSION_COOKIE_SECURE or set it to true';
  return null;
}

export function trustedOriginsProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'CSRF_TRUSTED_ORIGINS must be a comma-separated list of origins';
  for (const entry of trustedOriginEntries(value)) {
    const problem = trustedOriginProblem(entry);
    if (problem) return `CSRF_TRUSTED_ORIGINS: ${problem}`;
  }
  return null;
}
