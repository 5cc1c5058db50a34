import { parseFlushControl } from './flush-control';

const token = '0b9f3c1e-5d2a-4c4b-9e8f-1a2b3c4d5e6f';
const from = 'a1b2c3d4-e5f6-4a5b-8c9d-0e1f2a3b4c5d';

describe('parseFlushControl', () => {
  it('takes the two envelopes, and only their fields', () => {
    expect(parseFlushControl(JSON.stringify({ type: 'history.flush', token, from, extra: 1 }))).toEqual({
      type: 'history.flush',
      token,
      from,
    });
    expect(parseFlushControl(JSON.stringify({ type: 'history.flushed', token, from, ok: false }))).toEqual({
      type: 'history.flushed',
      token,
      from,
      ok: false,
    });
  });

  it.each([
    ['not JSON', '{"type":'],
    ['JSON but not an object', '"history.flush"'],
    ['null', 'null'],
    ['an array', JSON.stringify([{ type: 'history.flush', token, from }])],
    ['an unknown type', JSON.stringify({ type: 'history.drop', token, from })],
    ['a chat envelope', JSON.stringify({ o: from, e: { kind: 'presence', room: 'r' } })],
    ['a token that is not a UUID', JSON.stringify({ type: 'history.flush', token: 'x', from })],
    ['a number for a token', JSON.stringify({ type: 'history.flush', token: 7, from })],
    // `from` names the channel the answer goes to: nothing but an instance id is taken
    ['a room channel as sender', JSON.stringify({ type: 'history.flush', token, from: 'live:chat:lobby' })],
    ['an answer without ok', JSON.stringify({ type: 'history.flushed', token, from })],
    ['an answer with ok as text', JSON.stringify({ type: 'history.flushed', token, from, ok: 'true' })],
    ['a huge payload', JSON.stringify({ type: 'history.flush', token, from, pad: 'x'.repeat(1000) })],
  ])('refuses %s', (_what, payload) => {
    expect(parseFlushControl(payload)).toBeNull();
  });
});
