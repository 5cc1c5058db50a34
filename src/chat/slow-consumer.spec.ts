import WebSocket from 'ws';
import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { fakeClient, FakeChatSocket, RecordingLog } from './chat.fakes';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';

describe('slow consumers', () => {
  const LIMIT = 1024;
  let log: RecordingLog;
  let hub: RoomHub;
  const say = (id: number) =>
    hub.broadcast('lobby', { id, room: 'lobby', user: null, name: 'S', text: `m${id}`, ts: 'now' });

  beforeEach(() => {
    jest.useFakeTimers();
    log = new RecordingLog();
    hub = new RoomHub(
      new InMemoryChannelLayer(),
      new SlowConsumerGuard(LIMIT, log),
      new MetricsService(),
      log,
    );
  });
  afterEach(() => jest.useRealTimers());

  it('a socket more than CHAT_MAX_BUFFERED_BYTES behind is closed with 1013 and written nothing; the others are not affected', () => {
    const slow = fakeClient('lobby', true);
    const fast = fakeClient('lobby', false);
    hub.join(slow);
    hub.join(fast);
    slow.ws.bufferedAmount = LIMIT; // at the limit: still written
    say(1);
    expect(slow.ws.sent).toHaveLength(1);
    slow.ws.bufferedAmount = LIMIT + 1;
    say(2);
    say(3);
    expect(slow.ws.sent).toHaveLength(1);
    expect(slow.ws.closedWith).toEqual({ code: 1013, reason: 'slow consumer: too much unsent data' });
    expect(fast.ws.texts()).toEqual(['<S> m1', '<S> m2', '<S> m3']);
    expect(fast.ws.closedWith).toBeNull();
    // Closed once, logged once (the closing socket is skipped afterwards).
    expect(log.entries).toEqual([
      { level: 'warn', fields: { event: 'socket_slow_consumer_closed', room: 'lobby', buffered: LIMIT + 1 } },
    ]);
  });

  it('a peer that does not take the close frame either is terminated after the grace period', () => {
    const deaf = fakeClient('lobby', true, 'deaf', new FakeChatSocket({ answersClose: false }));
    hub.join(deaf);
    deaf.ws.bufferedAmount = LIMIT * 10;
    say(1);
    expect(deaf.ws.readyState).toBe(WebSocket.CLOSING);
    jest.advanceTimersByTime(1999);
    expect(deaf.ws.terminated).toBe(false);
    jest.advanceTimersByTime(1);
    expect(deaf.ws.terminated).toBe(true);
    expect(deaf.ws.readyState).toBe(WebSocket.CLOSED);
  });

  it('single frames (errors, presence) go through the same guard', () => {
    const slow = fakeClient('lobby', true);
    hub.join(slow);
    slow.ws.bufferedAmount = LIMIT + 1;
    hub.sendFrame(slow, { type: 'error', code: 'rate_limited', message: 'x' });
    expect(slow.ws.sent).toEqual([]);
    expect(slow.ws.closedWith?.code).toBe(1013);
  });
});
