import { certExpiry } from './vpn.service';

const DAY = 86_400_000;
const now = Date.parse('2026-11-28T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('certExpiry', () => {
  it('is expiring within the lifetime fraction', () => {
    // 90-day certificate, a third of it: expiring from day 60
    const nb = iso(now - 61 * DAY);
    const na = iso(now + 29 * DAY);
    expect(certExpiry(nb, na, 1 / 3, null, now)).toEqual({ warnFrom: iso(now - 1 * DAY), state: 'expiring' });
    expect(certExpiry(iso(now - 59 * DAY), iso(now + 31 * DAY), 1 / 3, null, now).state).toBe('ok');
  });

  it('VPN_CERT_WARN_DAYS warns earlier when it is the longer window', () => {
    const nb = iso(now - 700 * DAY);
    const na = iso(now + 125 * DAY); // 825 days: a third is 275 days
    expect(certExpiry(nb, na, 1 / 3, null, now).state).toBe('expiring');
    expect(certExpiry(iso(now - 60 * DAY), iso(now + 300 * DAY), 1 / 3, 30, now).state).toBe('ok');
    expect(certExpiry(iso(now - 10 * DAY), iso(now + 20 * DAY), 0.01, 30, now).state).toBe('expiring');
  });

  it('is expired from notAfter on, and ok without a date', () => {
    expect(certExpiry(iso(now - 10 * DAY), iso(now), 1 / 3, null, now).state).toBe('expired');
    expect(certExpiry(null, null, 1 / 3, 30, now)).toEqual({ warnFrom: null, state: 'ok' });
  });
});
