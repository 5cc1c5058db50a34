import { parseControlEnvelope, parseRoomControl } from './room-control';

describe('parseRoomControl', () => {
  it('takes each event shape exactly', () => {
    const events = [
      { type: 'rules', room: 'lobby' },
      {
        type: 'sanction',
        room: 'lobby',
        user: 5,
        kind: 'mute',
        lifted: false,
        until: 1_800_000_000_000,
        reason: 'calm',
      },
      { type: 'sanction', room: 'été', user: 5, kind: 'ban', lifted: true, until: null, reason: '' },
      { type: 'kick', room: 'lobby', user: 2147483647, reason: 'bye' },
      { type: 'deleted', room: 'lobby', id: 9007199254740991 },
    ];
    for (const e of events) expect(parseRoomControl(e)).toEqual(e);
  });

  it('refuses what is not one (it came through Redis): forged rooms, ids, kinds, reasons, local-only resync', () => {
    const bad: unknown[] = [
      null,
      'rules',
      [],
      { type: 'rules' },
      { type: 'rules', room: '../x' },
      { type: 'rules', room: 'a'.repeat(101) },
      { type: 'resync', room: 'lobby' },
      { type: 'other', room: 'lobby' },
      { type: 'kick', room: 'lobby', user: 0, reason: '' },
      { type: 'kick', room: 'lobby', user: 2147483648, reason: '' },
      { type: 'kick', room: 'lobby', user: '5', reason: '' },
      { type: 'kick', room: 'lobby', user: 5, reason: 'x'.repeat(501) },
      { type: 'kick', room: 'lobby', user: 5, reason: 'a\u0000b' },
      { type: 'kick', room: 'lobby', user: 5 },
      { type: 'sanction', room: 'lobby', user: 5, kind: 'jail', lifted: false, until: null, reason: '' },
      { type: 'sanction', room: 'lobby', user: 5, kind: 'mute', lifted: 'no', until: null, reason: '' },
      { type: 'sanction', room: 'lobby', user: 5, kind: 'mute', lifted: false, until: 1.5, reason: '' },
      { type: 'sanction', room: 'lobby', user: 5, kind: 'mute', lifted: false, reason: '' },
      { type: 'deleted', room: 'lobby', id: -1 },
      { type: 'deleted', room: 'lobby', id: 2 ** 53 },
    ];
    for (const e of bad) expect([e, parseRoomControl(e)]).toEqual([e, null]);
  });

  it('takes only the fields it knows, so nothing else travels on', () => {
    expect(parseRoomControl({ type: 'rules', room: 'lobby', __proto__x: 1, extra: 'y' })).toEqual({
      type: 'rules',
      room: 'lobby',
    });
  });
});

describe('parseControlEnvelope', () => {
  it('reads the origin and the event; refuses garbage, huge payloads and bad events', () => {
    const e = { type: 'kick', room: 'lobby', user: 5, reason: '' };
    expect(parseControlEnvelope(JSON.stringify({ o: 'abc', e }))).toEqual({ origin: 'abc', event: e });
    expect(parseControlEnvelope('{')).toBeNull();
    expect(parseControlEnvelope('null')).toBeNull();
    expect(parseControlEnvelope(JSON.stringify({ o: 5, e }))).toBeNull();
    expect(parseControlEnvelope(JSON.stringify({ o: 'x'.repeat(65), e }))).toBeNull();
    expect(parseControlEnvelope(JSON.stringify({ o: 'abc', e: { ...e, user: -1 } }))).toBeNull();
    expect(parseControlEnvelope(JSON.stringify({ o: 'abc', e, pad: 'x'.repeat(5000) }))).toBeNull();
  });
});
