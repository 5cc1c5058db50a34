import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from './app.config';
import { checkConfiguration } from './configuration';

describe("Django's cookie and CSRF settings", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'live-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const config = (env: Record<string, string>) => new AppConfig({ DATA_DIR: dir, ...env });
  const problems = (env: Record<string, string>) => checkConfiguration({ DATA_DIR: dir, ...env });

  it("has Django's names and defaults", () => {
    const c = config({});
    expect(c.sessionCookieName).toBe('sessionid');
    expect(c.sessionCookieDomain).toBeUndefined();
    expect(c.sessionCookieSecure).toBeNull(); // Secure when the request came over TLS
    expect(c.sessionCookieSameSite).toBe('lax');
    expect(c.sessionCookieAge).toBe(1209600);
    expect(c.csrfCookieName).toBe('csrftoken');
    expect(c.csrfTrustedOrigins.origins).toEqual([]);
  });

  it('reads each of them', () => {
    const c = config({
      SESSION_COOKIE_NAME: '__Secure-live_session',
      SESSION_COOKIE_DOMAIN: '.Example.org',
      SESSION_COOKIE_SECURE: 'true',
      SESSION_COOKIE_SAMESITE: 'None',
      SESSION_COOKIE_AGE: '3600',
      CSRF_COOKIE_NAME: 'live.csrf',
      CSRF_TRUSTED_ORIGINS: 'https://www.example.org, https://*.example.net',
    });
    expect(c.sessionCookieName).toBe('__Secure-live_session');
    expect(c.sessionCookieDomain).toBe('.example.org');
    expect(c.sessionCookieSecure).toBe(true);
    expect(c.sessionCookieSameSite).toBe('none');
    expect(c.sessionCookieAge).toBe(3600);
    expect(c.csrfCookieName).toBe('live.csrf');
    expect(c.csrfTrustedOrigins.origins).toEqual(['https://www.example.org', 'https://*.example.net']);
    expect(c.csrfTrustedOrigins.includesOrigin('https://chat.example.net')).toBe(true);
    expect(config({ SESSION_COOKIE_SECURE: 'false' }).sessionCookieSecure).toBe(false);
    expect(config({ SESSION_COOKIE_SAMESITE: 'strict' }).sessionCookieSameSite).toBe('strict');
  });

  it.each([
    [
      { SESSION_COOKIE_NAME: 'session id' },
      'SESSION_COOKIE_NAME="session id": SESSION_COOKIE_NAME must be a cookie name',
    ],
    [
      { SESSION_COOKIE_NAME: 'sess;ion' },
      'SESSION_COOKIE_NAME="sess;ion": SESSION_COOKIE_NAME must be a cookie name',
    ],
    [{ SESSION_COOKIE_NAME: 'séance' }, 'SESSION_COOKIE_NAME="séance"'],
    [
      { CSRF_COOKIE_NAME: 'csrf=token' },
      'CSRF_COOKIE_NAME="csrf=token": CSRF_COOKIE_NAME must be a cookie name',
    ],
    [{ CSRF_COOKIE_NAME: '"csrf"' }, 'CSRF_COOKIE_NAME="\\"csrf\\"": CSRF_COOKIE_NAME must be a cookie name'],
    [
      { SESSION_COOKIE_NAME: 'csrftoken' },
      'SESSION_COOKIE_NAME="csrftoken": SESSION_COOKIE_NAME must differ from CSRF_COOKIE_NAME',
    ],
    [
      { CSRF_COOKIE_NAME: 'sessionid' },
      'CSRF_COOKIE_NAME="sessionid": CSRF_COOKIE_NAME must differ from SESSION_COOKIE_NAME (sessionid)',
    ],
    [
      { SESSION_COOKIE_NAME: 'sid', CSRF_COOKIE_NAME: 'sid' },
      'CSRF_COOKIE_NAME="sid": CSRF_COOKIE_NAME must differ',
    ],
    [
      { SESSION_COOKIE_DOMAIN: 'https://example.org' },
      'SESSION_COOKIE_DOMAIN="https://example.org": SESSION_COOKIE_DOMAIN must be a domain',
    ],
    [{ SESSION_COOKIE_DOMAIN: '.example.org:443' }, 'SESSION_COOKIE_DOMAIN=".example.org:443"'],
    [
      { SESSION_COOKIE_SECURE: 'sometimes' },
      'SESSION_COOKIE_SECURE="sometimes": SESSION_COOKIE_SECURE must be true or false',
    ],
    [
      { SESSION_COOKIE_SAMESITE: 'Loose' },
      'SESSION_COOKIE_SAMESITE="Loose": SESSION_COOKIE_SAMESITE must be Lax, Strict or None',
    ],
    [
      { SESSION_COOKIE_SAMESITE: 'None', SESSION_COOKIE_SECURE: 'false' },
      'SESSION_COOKIE_SAMESITE="None": SESSION_COOKIE_SAMESITE=None needs a Secure cookie',
    ],
    [
      { SESSION_COOKIE_NAME: '__Host-sid', SESSION_COOKIE_SECURE: 'false' },
      'SESSION_COOKIE_NAME="__Host-sid": SESSION_COOKIE_NAME: browsers keep a __Host- cookie only when it is Secure',
    ],
    [
      { SESSION_COOKIE_NAME: '__Host-sid', SESSION_COOKIE_DOMAIN: '.example.org' },
      'SESSION_COOKIE_NAME="__Host-sid": SESSION_COOKIE_NAME: a __Host- cookie cannot have a Domain',
    ],
    [
      { CSRF_TRUSTED_ORIGINS: 'https://www.example.org,www.example.net' },
      'CSRF_TRUSTED_ORIGINS="https://www.example.org,www.example.net": CSRF_TRUSTED_ORIGINS: "www.example.net" has no scheme',
    ],
    [
      { CSRF_TRUSTED_ORIGINS: 'https://*' },
      'CSRF_TRUSTED_ORIGINS="https://*": CSRF_TRUSTED_ORIGINS: "https://*": only a leading *.',
    ],
    [{ CSRF_TRUSTED_ORIGINS: 'https://example.org/' }, 'without a path'],
  ])('refuses %j in one line naming the variable', (env, line) => {
    const lines = problems(env);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(line);
    expect(lines[0]).toMatch(/^Invalid configuration: [A-Z_]+=/);
  });

  it('reports cookie problems with the others, all at once', () => {
    const lines = problems({
      PORT: 'eighty',
      SESSION_COOKIE_NAME: 'a b',
      CSRF_TRUSTED_ORIGINS: 'example.org',
    });
    expect(lines.map((l) => /^Invalid configuration: ([A-Z_]+)=/.exec(l)?.[1]).sort()).toEqual([
      'CSRF_TRUSTED_ORIGINS',
      'PORT',
      'SESSION_COOKIE_NAME',
    ]);
  });
});
