import { isSameDomain, splitUrl, trustedOriginProblem, TrustedOrigins } from './trusted-origins';

describe('CSRF_TRUSTED_ORIGINS entries', () => {
  it.each([
    'https://www.example.org',
    'https://*.example.org',
    'http://localhost:8000',
    'https://chat.example.org:8443',
    'https://*.example.org:8443',
    'HTTPS://WWW.Example.org',
    'https://127.0.0.1',
    'https://[::1]:8000',
    'chrome-extension://abcdef',
  ])('accepts %s', (entry) => expect(trustedOriginProblem(entry)).toBeNull());

  it.each([
    ['www.example.org', /"www.example.org" has no scheme; .* e\.g\. https:\/\/www\.example\.org/],
    ['.example.org', /has no scheme/],
    ['*.example.org', /has no scheme/],
    ['https://www.example.org/', /without a path/],
    ['https://www.example.org/chat', /without a path/],
    ['https://www.example.org?x', /without a path/],
    ['https://*', /only a leading \*\. is a wildcard/],
    ['https://www.*.org', /only a leading \*\. is a wildcard/],
    ['https://*example.org', /only a leading \*\. is a wildcard/],
    ['https://', /needs a scheme and a host/],
    ['://www.example.org', /needs a scheme and a host/],
    ['https://user@www.example.org', /needs a scheme and a host/],
    ['https://www.example.org:port', /needs a scheme and a host/],
    ['https://exa mple.org', /needs a scheme and a host/],
  ])('refuses %s, saying why', (entry, why) => expect(trustedOriginProblem(entry)).toMatch(why));
});

describe('TrustedOrigins (Django 4.0 matching)', () => {
  const trusted = TrustedOrigins.parse(
    ' https://www.example.org , https://*.partner.test,http://*.dev.test:8000,HTTPS://Caps.Example.org',
  );

  it('trusts listed origins exactly: scheme, host and port', () => {
    expect(trusted.includesOrigin('https://www.example.org')).toBe(true);
    expect(trusted.includesOrigin('https://caps.example.org')).toBe(true);
    expect(trusted.includesOrigin('http://www.example.org')).toBe(false);
    expect(trusted.includesOrigin('https://www.example.org:8443')).toBe(false);
    expect(trusted.includesOrigin('https://example.org')).toBe(false);
    expect(trusted.includesOrigin('https://evil.www.example.org')).toBe(false);
  });

  it('trusts a *. entry for the domain and its subdomains, on its scheme and port only', () => {
    expect(trusted.includesOrigin('https://partner.test')).toBe(true);
    expect(trusted.includesOrigin('https://a.partner.test')).toBe(true);
    expect(trusted.includesOrigin('https://a.b.partner.test')).toBe(true);
    expect(trusted.includesOrigin('http://a.partner.test')).toBe(false);
    expect(trusted.includesOrigin('https://a.partner.test:8443')).toBe(false);
    expect(trusted.includesOrigin('https://evilpartner.test')).toBe(false);
    expect(trusted.includesOrigin('http://x.dev.test:8000')).toBe(true);
    expect(trusted.includesOrigin('http://x.dev.test')).toBe(false);
  });

  it('trusts nothing that is not an origin', () => {
    for (const origin of [
      'null',
      '',
      'https://a.partner.test/path',
      'https://*.partner.test',
      'a.partner.test',
    ])
      expect(trusted.includesOrigin(origin)).toBe(false);
    expect(TrustedOrigins.parse(undefined).includesOrigin('https://www.example.org')).toBe(false);
  });

  it('matches a Referer host against every entry’s host, whatever its scheme', () => {
    expect(trusted.includesRefererHost('www.example.org')).toBe(true);
    expect(trusted.includesRefererHost('x.partner.test')).toBe(true);
    expect(trusted.includesRefererHost('x.dev.test:8000')).toBe(true);
    expect(trusted.includesRefererHost('x.dev.test')).toBe(false);
    expect(trusted.includesRefererHost('www.example.org:8443')).toBe(false);
    expect(trusted.includesRefererHost('evil.example')).toBe(false);
  });

  it('refuses to be built from an entry the configuration would refuse', () => {
    expect(() => new TrustedOrigins(['www.example.org'])).toThrow(/Not a trusted origin/);
  });
});

describe("Django's helpers", () => {
  it('is_same_domain: exact, or .domain for the domain and its subdomains', () => {
    expect(isSameDomain('example.org', 'example.org')).toBe(true);
    expect(isSameDomain('Example.ORG', 'example.org')).toBe(true);
    expect(isSameDomain('a.example.org', '.example.org')).toBe(true);
    expect(isSameDomain('example.org', '.example.org')).toBe(true);
    expect(isSameDomain('a.example.org', 'example.org')).toBe(false);
    expect(isSameDomain('badexample.org', '.example.org')).toBe(false);
    expect(isSameDomain('a.example.org:80', '.example.org')).toBe(false);
    expect(isSameDomain('example.org', '')).toBe(false);
  });

  it('splits scheme and netloc as urlparse does (lower-cased), or gives null', () => {
    expect(splitUrl('HTTPS://User@Host.org:8/x?y#z')).toEqual({ scheme: 'https', netloc: 'user@host.org:8' });
    expect(splitUrl('https://')).toEqual({ scheme: 'https', netloc: '' });
    for (const bad of ['null', '//host/x', '/path', 'https:/host', '1https://x', ''])
      expect(splitUrl(bad)).toBeNull();
  });
});
