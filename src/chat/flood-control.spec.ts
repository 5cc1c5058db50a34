import { FloodControl } from './flood-control';

describe('FloodControl', () => {
  let now: number;
  const bucket = (rate: number, burst: number, floodStrikes: number) =>
    new FloodControl({ rate, burst, floodStrikes }, () => now);

  beforeEach(() => (now = 1_000_000));

  it('lets a burst through, then drops, then says close after CHAT_FLOOD_STRIKES drops in a row', () => {
    const flood = bucket(1, 3, 2);
    expect([flood.take(), flood.take(), flood.take()]).toEqual(['ok', 'ok', 'ok']);
    expect(flood.take()).toBe('drop');
    expect(flood.take()).toBe('close');
  });

  it('refills at CHAT_RATE per second, and a message let through resets the strikes', () => {
    const flood = bucket(10, 1, 3);
    expect(flood.take()).toBe('ok');
    expect(flood.take()).toBe('drop');
    expect(flood.take()).toBe('drop');
    now += 99; // 0.99 of a token
    expect(flood.take()).toBe('close');

    const again = bucket(10, 1, 3);
    again.take();
    expect(again.take()).toBe('drop');
    expect(again.take()).toBe('drop');
    now += 100; // one token back
    expect(again.take()).toBe('ok');
    expect(again.take()).toBe('drop'); // strikes start over: no close at the third drop overall
    expect(again.take()).toBe('drop');
    expect(again.take()).toBe('close');
  });

  it('never holds more than CHAT_BURST tokens, however long the socket was quiet', () => {
    const flood = bucket(100, 2, 1);
    now += 3_600_000;
    expect([flood.take(), flood.take(), flood.take()]).toEqual(['ok', 'ok', 'close']);
  });
});
