import { base32Decode, base32Encode, hotp, matchTotp, otpauthUri, totp, totpStep } from './totp';

// RFC 4226 appendix D and RFC 6238 appendix B (SHA-1 key "12345678901234567890").
const RFC_KEY = Buffer.from('12345678901234567890');

describe('HOTP (RFC 4226 test values)', () => {
  const expected = [
    '755224',
    '287082',
    '359152',
    '969429',
    '338314',
    '254676',
    '287922',
    '162583',
    '399871',
    '520489',
  ];
  it.each(expected.map((code, counter) => [counter, code]))('counter %i → %s', (counter, code) => {
    expect(hotp(RFC_KEY, counter)).toBe(code);
  });
});

describe('TOTP (RFC 6238 test values, 8 digits)', () => {
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('at %i s: %s', (seconds, code) => {
    expect(hotp(RFC_KEY, totpStep(seconds * 1000), 8)).toBe(code);
    expect(totp(RFC_KEY, seconds * 1000)).toBe(code.slice(2)); // 6 digits: the same number mod 10^6
  });
});

describe('matchTotp', () => {
  const now = 1_764_000_000_000;
  const step = totpStep(now);
  it('accepts the current step and one either side, no further', () => {
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step), now, null)).toBe(step);
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step - 1), now, null)).toBe(step - 1);
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step + 1), now, null)).toBe(step + 1);
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step - 2), now, null)).toBeNull();
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step + 2), now, null)).toBeNull();
  });
  it('refuses a step already used, and earlier ones', () => {
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step), now, step)).toBeNull();
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step - 1), now, step)).toBeNull();
    expect(matchTotp(RFC_KEY, hotp(RFC_KEY, step + 1), now, step)).toBe(step + 1);
  });
  it('refuses anything but six digits', () => {
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456', '１２３４５６'])
      expect(matchTotp(RFC_KEY, bad, now, null)).toBeNull();
  });
});

describe('base32', () => {
  it('round-trips and matches RFC 4648', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI')?.toString()).toBe('foobar');
    expect(base32Decode('mzxw 6ytb oi======')?.toString()).toBe('foobar');
    expect(base32Decode('MZXW1')).toBeNull();
    expect(base32Encode(RFC_KEY)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });
});

it('otpauth URI names the issuer, the account and the parameters', () => {
  expect(otpauthUri(RFC_KEY, 'ada@x', 'live')).toBe(
    'otpauth://totp/live:ada%40x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=live&algorithm=SHA1&digits=6&period=30',
  );
});
