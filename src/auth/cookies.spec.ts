import type { Request } from 'express';
import { csrfCookieOptions, sessionCookieOptions } from './cookies';

describe('cookie attributes from the settings', () => {
  const defaults = {
    sessionCookieName: 'sessionid',
    sessionCookieDomain: undefined,
    sessionCookieSecure: null,
    sessionCookieSameSite: 'lax',
    sessionCookieAge: 1209600,
    csrfCookieName: 'csrftoken',
  } as const;
  const http = { secure: false } as Request;
  const https = { secure: true } as Request;

  it('by default: HttpOnly, SameSite=Lax, host-only, Path=/, Secure only over TLS', () => {
    expect(sessionCookieOptions(defaults, http)).toEqual({
      httpOnly: true,
      sameSite: 'lax',
      secure: false,
      path: '/',
      maxAge: 1209600 * 1000,
    });
    expect(sessionCookieOptions(defaults, https).secure).toBe(true);
  });

  it('SESSION_COOKIE_SECURE forces Secure either way', () => {
    expect(sessionCookieOptions({ ...defaults, sessionCookieSecure: true }, http).secure).toBe(true);
    expect(sessionCookieOptions({ ...defaults, sessionCookieSecure: false }, https).secure).toBe(false);
  });

  it('SameSite=None and __Secure-/__Host- names are always Secure unless forced (config refuses false)', () => {
    expect(sessionCookieOptions({ ...defaults, sessionCookieSameSite: 'none' }, http)).toMatchObject({
      sameSite: 'none',
      secure: true,
    });
    expect(sessionCookieOptions({ ...defaults, sessionCookieName: '__Host-sid' }, http).secure).toBe(true);
    expect(sessionCookieOptions({ ...defaults, sessionCookieName: '__Secure-sid' }, http).secure).toBe(true);
  });

  it('SESSION_COOKIE_DOMAIN and SESSION_COOKIE_SAMESITE', () => {
    expect(
      sessionCookieOptions(
        { ...defaults, sessionCookieDomain: '.example.org', sessionCookieSameSite: 'strict' },
        http,
      ),
    ).toMatchObject({ domain: '.example.org', sameSite: 'strict' });
  });

  it('the CSRF cookie keeps Django’s defaults: readable by the page, Lax, host-only, Secure over TLS', () => {
    const options = {
      ...defaults,
      sessionCookieDomain: '.example.org',
      sessionCookieSameSite: 'none',
    } as const;
    expect(csrfCookieOptions(options, http)).toEqual({
      httpOnly: false,
      sameSite: 'lax',
      secure: false,
      path: '/',
      maxAge: 365 * 24 * 3600 * 1000,
    });
    expect(csrfCookieOptions(options, https).secure).toBe(true);
    expect(csrfCookieOptions({ ...options, csrfCookieName: '__Host-csrf' }, http).secure).toBe(true);
  });
});
