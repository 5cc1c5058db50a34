import { botNameRefusal, textRefusal } from './publish-rules';

describe('textRefusal', () => {
  it('takes what a socket may send, up to the byte limit', () => {
    expect(textRefusal('', 16)).toBeNull();
    expect(textRefusal('build finished ✓', 64)).toBeNull();
    expect(textRefusal('x'.repeat(16), 16)).toBeNull();
    expect(textRefusal('😀'.repeat(4), 16)).toBeNull(); // 16 bytes exactly
  });

  it('refuses NUL, lone surrogates and texts over the limit in UTF-8 bytes', () => {
    expect(textRefusal('a\u0000b', 64)).toMatch(/NUL/);
    expect(textRefusal('a\ud800b', 64)).toMatch(/lone surrogate/);
    expect(textRefusal('\udc00', 64)).toMatch(/lone surrogate/);
    expect(textRefusal('x'.repeat(17), 16)).toBe(
      'text is 17 bytes of UTF-8; a chat message may have at most 16 (CHAT_MAX_MESSAGE_BYTES)',
    );
    expect(textRefusal('é'.repeat(9), 16)).toMatch(/18 bytes/);
  });
});

describe('botNameRefusal', () => {
  it('takes 1 to 150 printable characters, counted as characters', () => {
    expect(botNameRefusal('CI')).toBeNull();
    expect(botNameRefusal('Build bot 🤖')).toBeNull();
    expect(botNameRefusal('b'.repeat(150))).toBeNull();
    expect(botNameRefusal('😀'.repeat(150))).toBeNull();
  });

  it('refuses empty, blank, too long and control characters', () => {
    for (const bad of [
      '',
      '   ',
      'b'.repeat(151),
      '😀'.repeat(151),
      'a\nb',
      'a\u0000',
      'a\u007f',
      'a\u0085',
      'a\u2028',
      'a\ud800',
    ])
      expect(botNameRefusal(bad)).toMatch(/name must be 1 to 150 printable characters/);
  });
});
