import { parseTrustProxy, proxyTrust, trustProxyProblem, trustsAnyProxy } from './trust-proxy';

describe('TRUST_PROXY', () => {
  it('takes yes/no words, a hop count 0-9, or a list of addresses, CIDR ranges and range names', () => {
    for (const ok of [
      'true',
      'OFF',
      '0',
      '9',
      '127.0.0.1',
      '10.0.0.0/8, 192.168.1.0/255.255.255.0',
      '::1,fd00::/8',
      'loopback,uniquelocal',
      'linklocal',
    ])
      expect([ok, trustProxyProblem(ok)]).toEqual([ok, null]);
    for (const bad of [
      'maybe',
      '12',
      '-1',
      '1.5',
      '',
      '10.0.0.1,',
      ',10.0.0.1',
      '10.0.0.1/33',
      '::1/129',
      '10.0.0.1/8/8',
      '10.0.0.1/abc',
      '::1/255.0.0.0',
      '300.1.1.1',
      'example.org',
      'true,10.0.0.1',
      'loopback;rm -rf',
    ])
      expect([bad, trustProxyProblem(bad)]).toEqual([bad, expect.stringMatching(/^TRUST_PROXY must be/)]);
    expect(trustProxyProblem('10.0.0.1/33')).toContain('10.0.0.1/33');
  });

  it('parses to a hop count or the list', () => {
    expect(parseTrustProxy('yes')).toBe(1);
    expect(parseTrustProxy('false')).toBe(0);
    expect(parseTrustProxy('3')).toBe(3);
    expect(parseTrustProxy(' 10.0.0.1 , loopback')).toEqual(['10.0.0.1', 'loopback']);
    expect(trustsAnyProxy(0)).toBe(false);
    expect(trustsAnyProxy(2)).toBe(true);
    expect(trustsAnyProxy(['loopback'])).toBe(true);
  });

  it('a count trusts the nearest hops; a list trusts the listed addresses only', () => {
    const two = proxyTrust(2);
    expect([0, 1, 2].map((hop) => two('6.6.6.6', hop))).toEqual([true, true, false]);
    const list = proxyTrust(['10.0.0.0/8', 'loopback']);
    expect(list('10.1.2.3', 0)).toBe(true);
    expect(list('127.0.0.1', 5)).toBe(true);
    expect(list('::1', 0)).toBe(true);
    expect(list('203.0.113.7', 0)).toBe(false);
    expect(list('11.0.0.1', 1)).toBe(false);
  });
});
