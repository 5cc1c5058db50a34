import { closeReason, parseClientFrame } from './chat.protocol';
import { MAX_DURATION_SECONDS, mutedFrame, parseModerationFrame, roomDetails } from './moderation.protocol';
import { OPEN_ACCESS } from './room-rules';

describe('moderation frames from live.v1 sockets', () => {
  it('parses each command, with defaults', () => {
    expect(parseClientFrame('{"type":"delete","id":12}')).toEqual({
      command: { action: 'delete', id: 12, reason: '' },
    });
    expect(parseModerationFrame({ type: 'mute', user: 5, duration: 600, reason: 'calm' })).toEqual({
      action: 'mute',
      user: 5,
      duration: 600,
      reason: 'calm',
    });
    expect(parseModerationFrame({ type: 'ban', user: 5 })).toEqual({
      action: 'ban',
      user: 5,
      duration: null,
      reason: '',
    });
    for (const action of ['unmute', 'unban', 'kick'])
      expect(parseModerationFrame({ type: action, user: 7, reason: 'r' })).toEqual({
        action,
        user: 7,
        reason: 'r',
      });
  });

  it('refuses bad values with a reason, and leaves other types to the message parser', () => {
    const refused = [
      { type: 'delete' },
      { type: 'delete', id: -1 },
      { type: 'delete', id: '12' },
      { type: 'delete', id: 2 ** 53 },
      { type: 'mute', user: 0 },
      { type: 'mute', user: 1.5 },
      { type: 'mute', user: 2147483648 },
      { type: 'kick' },
      { type: 'mute', user: 5, duration: 0 },
      { type: 'mute', user: 5, duration: MAX_DURATION_SECONDS + 1 },
      { type: 'ban', user: 5, duration: '60' },
      { type: 'kick', user: 5, reason: 5 },
      { type: 'kick', user: 5, reason: 'x'.repeat(501) },
      { type: 'kick', user: 5, reason: 'a\u0000b' },
    ];
    for (const f of refused) expect([f, typeof parseModerationFrame(f)]).toEqual([f, 'string']);
    expect(parseModerationFrame({ type: 'message', text: 'hi' })).toBeNull();
    expect(parseModerationFrame({ type: 'typing' })).toBeNull();
    expect(parseClientFrame('{"type":"typing"}')).toBe('Unknown frame type; expected "message"');
    expect(parseClientFrame('{"type":"message","text":"x"}')).toEqual({ text: 'x' });
  });
});

describe('what sockets are told', () => {
  it('the welcome of a socket in a room without rules gets nothing added', () => {
    expect(roomDetails(OPEN_ACCESS)).toEqual({});
    expect(
      roomDetails({
        ...OPEN_ACCESS,
        topic: 'News',
        moderator: true,
        postRefusal: 'Only moderators may post in this room',
      }),
    ).toEqual({ topic: 'News', moderator: true, readOnly: 'Only moderators may post in this room' });
  });

  it('muted: until as ISO time (null when it has no end), the reason and the sentence', () => {
    expect(mutedFrame('r', { mutedUntil: Date.UTC(2030, 0, 1), muteReason: 'x' })).toEqual({
      type: 'muted',
      room: 'r',
      until: '2030-01-01T00:00:00.000Z',
      reason: 'x',
      message: 'You are muted in this room until 2030-01-01T00:00:00.000Z: x',
    });
    expect(mutedFrame('r', { mutedUntil: Infinity, muteReason: '' })).toMatchObject({
      until: null,
      message: 'You are muted in this room',
    });
  });

  it('close reasons fit in 123 bytes without cutting a character', () => {
    expect(closeReason('short')).toBe('short');
    const long = closeReason('é'.repeat(100));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(123);
    expect(long.endsWith('é…')).toBe(true);
    expect(closeReason('x'.repeat(123))).toBe('x'.repeat(123));
  });
});
