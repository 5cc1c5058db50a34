import type { IncomingMessage } from 'node:http';
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
    expect(clientAddress(request('10.0.0.1', '6.6.6.6'), 0)).toBe('10.0.0.1');
    // One proxy: the address it appended (right-most), not the left-most one a client can forge.
    expect(clientAddress(request('10.0.0.1', '6.6.6.6, 203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientAddress(request('10.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.2'), 2)).toBe('203.0.113.7');
    // More hops trusted than addresses given: the left-most one.
    expect(clientAddress(request('10.0.0.1', '203.0.113.7'), 3)).toBe('203.0.113.7');
    expect(clientAddress(request('10.0.0.1'), 1)).toBe('10.0.0.1');
  });
});
