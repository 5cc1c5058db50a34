import { parseManagementTarget, parseStatus } from './vpn-management';

describe('parseManagementTarget', () => {
  it.each([
    ['127.0.0.1:7505', { host: '127.0.0.1', port: 7505 }],
    ['openvpn:7505', { host: 'openvpn', port: 7505 }],
    ['[::1]:7505', { host: '::1', port: 7505 }],
    ['/run/openvpn/management.sock', { path: '/run/openvpn/management.sock' }],
  ])('%s', (value, expected) => expect(parseManagementTarget(value)).toEqual(expected));

  it.each(['abc', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'relative/sock', 'a b:1', '/x;rm'])(
    'refuses %s',
    (value) => expect(parseManagementTarget(value)).toBeNull(),
  );
});

describe('parseStatus (status 3)', () => {
  it('reads CLIENT_LIST lines and ignores the rest', () => {
    const text = [
      'TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu',
      'TIME\t2026-11-28 05:00:00\t1764306000',
      'HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher',
      'CLIENT_LIST\talice\t127.0.0.1:40000\t10.8.0.2\t\t3468\t3512\t2026-11-28 05:00:00\t1764306000\tUNDEF\t7\t0\tAES-256-GCM',
      'ROUTING_TABLE\t10.8.0.2\talice\t127.0.0.1:40000\t2026-11-28 05:00:01\t1764306001',
      'GLOBAL_STATS\tMax bcast/mcast queue length\t0',
      'END',
    ].join('\r\n');
    expect(parseStatus(text)).toEqual([
      {
        name: 'alice',
        realAddress: '127.0.0.1:40000',
        vpnAddress: '10.8.0.2',
        bytesIn: 3468,
        bytesOut: 3512,
        connectedSince: new Date(1764306000 * 1000).toISOString(),
        clientId: 7,
      },
    ]);
    expect(parseStatus('END\r\n')).toEqual([]);
  });
});
