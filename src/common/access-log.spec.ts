import type { IncomingMessage } from 'node:http';
import { proxyTrust } from '../config/trust-proxy';
import { clientAddress, pathOf } from './access-log';

const request = (peer: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

describe('access log fields', () => {
  it('leave the query string out of the path', () => {
    expect(pathOf('/chat/lobby/?since=5&token=s3cret')).toBe('/chat/lobby/');
    expect(pathOf('/auth/me')).toBe('/auth/me');
    expect(pathOf('/?')).toBe('/');
    expect(pathOf(undefined)).toBe('/');
  });

  it('take the client address as Express does with a TRUST_PROXY hop count', () => {
    // No proxy trusted: the peer, whatever X-Forwarded-For says.
    expect(clientAddress(request('10.0.0.1', '6.6.6.6'), proxyTrust(0))).toBe('10.0.0.1');
    // One proxy: the address it appended (right-most), not the left-most one a client can forge.
    expect(clientAddress(request('10.0.0.1', '6.6.6.6, 203.0.113.7'), proxyTrust(1))).toBe('203.0.113.7');
    expect(clientAddress(request('10.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.2'), proxyTrust(2))).toBe(
      '203.0.113.7',
    );
    // More hops trusted than addresses given: the left-most one.
    expect(clientAddress(request('10.0.0.1', '203.0.113.7'), proxyTrust(3))).toBe('203.0.113.7');
    expect(clientAddress(request('10.0.0.1'), proxyTrust(1))).toBe('10.0.0.1');
  });

  it('with a list of proxies, believe X-Forwarded-For only from them, and only as far as they appended it', () => {
    const trust = proxyTrust(['127.0.0.1', '10.0.0.0/8']);
    // A listed proxy appended the client's address after what the client wrote itself.
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, 203.0.113.7'), trust)).toBe('203.0.113.7');
    // Two listed proxies in a row: the first address neither of them is.
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, 203.0.113.7, 10.1.1.1'), trust)).toBe('203.0.113.7');
    // A client talking to live directly (not a listed proxy) is its own address, whatever it writes.
    expect(clientAddress(request('198.51.100.9', '127.0.0.1, 10.0.0.5'), trust)).toBe('198.51.100.9');
  });
});
