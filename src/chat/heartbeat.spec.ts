import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { fakeClient, RecordingLog } from './chat.fakes';
import { Heartbeat } from './heartbeat';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';

describe('Heartbeat', () => {
  it('pings every socket; one that did not answer the previous ping is terminated', () => {
    const log = new RecordingLog();
    const hub = new RoomHub(
      new InMemoryChannelLayer(),
      new SlowConsumerGuard(1024, log),
      new MetricsService(),
      log,
    );
    const answers = fakeClient('a', true);
    const silent = fakeClient('b', false);
    hub.join(answers);
    hub.join(silent);
    const heartbeat = new Heartbeat(hub, 30_000);
    heartbeat.sweep();
    expect([answers.ws.pings, silent.ws.pings]).toEqual([1, 1]);
    answers.alive = true; // its pong came back
    heartbeat.sweep();
    expect(answers.ws.pings).toBe(2);
    expect(answers.ws.terminated).toBe(false);
    expect(silent.ws.terminated).toBe(true);
    expect(silent.ws.pings).toBe(1);
  });
});
