import { splitUrl, TrustedOrigins } from './trusted-origins';

/** Django's reasons, word for word (django/middleware/csrf.py). */
export const CSRF_ORIGIN_REASONS = {
  badOrigin: (origin: string) => `Origin checking failed - ${origin} does not match any trusted origins.`,
  noReferer: 'Referer checking failed - no Referer.',
  malformedReferer: 'Referer checking failed - Referer is malformed.',
  insecureReferer: 'Referer checking failed - Referer is insecure while host is secure.',
  badReferer: (referer: string) => `Referer checking failed - ${referer} does not match any trusted origins.`,
} as const;

export interface SecureRequestHeaders {
  origin?: string;
  referer?: string;
  /** The Host header, which the ALLOWED_HOSTS check has already accepted. */
  host?: string;
}

/**
 * What Django 4.0+'s CsrfViewMiddleware says about an unsafe request that came over HTTPS, or null
 * when it may go on to the token check: an `Origin`, when sent, must be this site's own
 * (`https://` + Host) or trusted; without one, the `Referer` must be an https URL on this host:port
 * or on a trusted origin's host. (Without CSRF_COOKIE_DOMAIN, which live has not, Django compares
 * the Referer with the Host alone.)
 */
export function secureRequestOriginFailure(
  headers: SecureRequestHeaders,
  trusted: TrustedOrigins,
): string | null {
  const host = (headers.host ?? '').toLowerCase();
  if (headers.origin !== undefined) {
    const origin = headers.origin;
    if (host !== '' && origin.toLowerCase() === `https://${host}`) return null;
    return trusted.includesOrigin(origin) ? null : CSRF_ORIGIN_REASONS.badOrigin(origin);
  }
  const referer = headers.referer;
  if (referer === undefined) return CSRF_ORIGIN_REASONS.noReferer;
  const parts = splitUrl(referer);
  // urlparse fails on an unclosed IPv6 bracket; an empty scheme or netloc is malformed too.
  if (!parts || parts.netloc === '' || (parts.netloc.includes('[') && !parts.netloc.includes(']')))
    return CSRF_ORIGIN_REASONS.malformedReferer;
  if (parts.scheme !== 'https') return CSRF_ORIGIN_REASONS.insecureReferer;
  if (trusted.includesRefererHost(parts.netloc)) return null;
  // Django's is_same_domain(netloc, host): an exact match, host:port included.
  if (host !== '' && parts.netloc === host) return null;
  return CSRF_ORIGIN_REASONS.badReferer(referer);
}
