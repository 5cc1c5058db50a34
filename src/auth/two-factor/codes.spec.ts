import { newRecoveryCodes, parseCode } from './codes';

describe('parseCode', () => {
  it('reads authenticator and recovery codes as people type them', () => {
    expect(parseCode('123456')).toEqual({ kind: 'totp', code: '123456' });
    expect(parseCode(' 123 456 ')).toEqual({ kind: 'totp', code: '123456' });
    expect(parseCode('ABCDE-FGHJK')).toEqual({ kind: 'recovery', code: 'abcdefghjk' });
    expect(parseCode('abcdefghjk')).toEqual({ kind: 'recovery', code: 'abcdefghjk' });
  });
  it('refuses everything else', () => {
    for (const bad of [
      '',
      '12345',
      '1234567',
      'abcde-fghij',
      'abcde-fghj',
      '１２３４５６',
      'x'.repeat(65),
      123456,
      null,
      ['123456'],
    ])
      expect(parseCode(bad)).toBeNull();
  });
});

it('makes ten distinct recovery codes that parse back', () => {
  const codes = newRecoveryCodes();
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  for (const code of codes) {
    expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect(parseCode(code)).toEqual({ kind: 'recovery', code: code.replace('-', '') });
  }
});
