import { CSRF_ORIGIN_REASONS, secureRequestOriginFailure, SecureRequestHeaders } from './csrf-origin';
import { TrustedOrigins } from './trusted-origins';

/** An unsafe HTTPS request to chat.example.org, as Django 4.0's CsrfViewMiddleware judges it. */
describe('secureRequestOriginFailure', () => {
  const trusted = TrustedOrigins.parse('https://www.example.org,https://*.partner.test');
  const check = (headers: SecureRequestHeaders) =>
    secureRequestOriginFailure({ host: 'chat.example.org', ...headers }, trusted);

  it("passes the site's own origin and trusted ones", () => {
    expect(check({ origin: 'https://chat.example.org' })).toBeNull();
    expect(check({ origin: 'https://chat.example.org', host: 'Chat.Example.org' })).toBeNull();
    expect(check({ origin: 'https://www.example.org' })).toBeNull();
    expect(check({ origin: 'https://shop.partner.test' })).toBeNull();
    expect(check({ origin: 'https://localhost:8443', host: 'localhost:8443' })).toBeNull();
  });

  it("refuses any other Origin with Django's reason, whatever the Referer says", () => {
    for (const origin of [
      'https://evil.example',
      'http://chat.example.org',
      'https://chat.example.org:8443',
      'https://example.org',
      'null',
      '',
      'https://chat.example.org/',
    ])
      expect(check({ origin, referer: 'https://chat.example.org/' })).toBe(
        `Origin checking failed - ${origin} does not match any trusted origins.`,
      );
  });

  it('without an Origin, wants an https Referer on this host:port or a trusted host', () => {
    expect(check({ referer: 'https://chat.example.org/admin/' })).toBeNull();
    expect(check({ referer: 'https://CHAT.example.org' })).toBeNull();
    expect(check({ referer: 'https://www.example.org/page?x=1' })).toBeNull();
    expect(check({ referer: 'https://a.b.partner.test/' })).toBeNull();
    expect(check({ referer: 'https://localhost:8443/x', host: 'localhost:8443' })).toBeNull();
  });

  it("refuses a missing, malformed, insecure or foreign Referer with Django's reasons", () => {
    expect(check({})).toBe('Referer checking failed - no Referer.');
    for (const referer of [
      '',
      'chat.example.org',
      '/admin/',
      '//chat.example.org/',
      'https://',
      'https:///x',
      'https://[::1/',
    ])
      expect(check({ referer })).toBe(CSRF_ORIGIN_REASONS.malformedReferer);
    for (const referer of [
      'http://chat.example.org/',
      'ftp://chat.example.org/',
      'javascript://chat.example.org',
    ])
      expect(check({ referer })).toBe('Referer checking failed - Referer is insecure while host is secure.');
    for (const referer of [
      'https://evil.example/',
      'https://chat.example.org:444/',
      'https://chat.example.org.evil.example/',
      'https://user@chat.example.org/',
      'https://example.org/',
      'https://partner.test.evil/',
    ])
      expect(check({ referer })).toBe(
        `Referer checking failed - ${referer} does not match any trusted origins.`,
      );
  });

  it('without a Host, trusts only CSRF_TRUSTED_ORIGINS', () => {
    expect(check({ host: undefined, origin: 'https://' })).toMatch(/^Origin checking failed/);
    expect(check({ host: '', referer: 'https:///' })).toBe(CSRF_ORIGIN_REASONS.malformedReferer);
    expect(check({ host: '', origin: 'https://www.example.org' })).toBeNull();
  });
});
