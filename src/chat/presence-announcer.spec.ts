import { MetricsService } from '../metrics/metrics.service';
import { GroupEvent, InMemoryChannelLayer } from './channel-layer';
import { fakeClient, RecordingLog } from './chat.fakes';
import { InMemoryPresence } from './presence';
import { PresenceAnnouncer } from './presence-announcer';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';

describe('PresenceAnnouncer', () => {
  let layer: InMemoryChannelLayer;
  let tracker: InMemoryPresence;
  let hub: RoomHub;
  let announcer: PresenceAnnouncer;
  let notices: [string, GroupEvent][];

  const enter = (room: string, v1: boolean, name?: string) => {
    const client = fakeClient(room, v1, name);
    hub.join(client);
    announcer.joined(client);
    return client;
  };
  const presenceFrames = (c: ReturnType<typeof fakeClient>) =>
    c.ws.frames().filter((f) => f.type === 'presence');

  beforeEach(() => {
    jest.useFakeTimers();
    layer = new InMemoryChannelLayer();
    tracker = new InMemoryPresence();
    const log = new RecordingLog();
    hub = new RoomHub(layer, new SlowConsumerGuard(1 << 20, log), new MetricsService(), log);
    announcer = new PresenceAnnouncer(tracker, layer, hub, log);
    notices = [];
    const send = layer.groupSend.bind(layer);
    jest.spyOn(layer, 'groupSend').mockImplementation((group, event) => {
      notices.push([group, event]);
      send(group, event);
    });
    // As ChatService wires it: a presence notice for a room refreshes its frame on this instance.
    layer.setListener((group, event) => event.kind === 'presence' && announcer.refresh(group));
  });
  afterEach(() => {
    announcer.stop();
    jest.useRealTimers();
  });

  it('a burst of joins is one notice per room per 20 ms window', async () => {
    for (let i = 0; i < 5; i++) enter('a', true);
    enter('b', false);
    enter('b', false);
    await jest.advanceTimersByTimeAsync(19);
    expect(notices).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(notices).toEqual([
      ['a', { kind: 'presence', room: 'a' }],
      ['b', { kind: 'presence', room: 'b' }],
    ]);
    enter('a', true);
    await jest.advanceTimersByTimeAsync(20);
    expect(notices.map(([room]) => room)).toEqual(['a', 'b', 'a']);
  });

  it('notices within 50 ms make one presence frame, with every member once, to live.v1 sockets only', async () => {
    const ann = enter('a', true, 'Ann');
    const bob = enter('a', true, 'Bob');
    const plain = enter('a', false, 'Ann');
    await jest.advanceTimersByTimeAsync(20); // the notice goes out and schedules the frame
    announcer.refresh('a');
    announcer.refresh('a');
    await jest.advanceTimersByTimeAsync(49);
    expect(presenceFrames(ann)).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    const frame = { type: 'presence', room: 'a', members: ['Ann', 'Bob'], count: 3, anonymous: 0 };
    expect(presenceFrames(ann)).toEqual([frame]);
    expect(presenceFrames(bob)).toEqual([frame]);
    expect(plain.ws.texts()).toEqual([]);
    await jest.advanceTimersByTimeAsync(200);
    expect(presenceFrames(ann)).toHaveLength(1);
  });

  it('a leave is announced too, and the next frame counts one fewer', async () => {
    const ann = enter('a', true, 'Ann');
    const bob = enter('a', true, 'Bob');
    await jest.advanceTimersByTimeAsync(100);
    hub.leave(bob);
    announcer.left(bob);
    await jest.advanceTimersByTimeAsync(100);
    expect(presenceFrames(ann).map((f) => [f.members, f.count])).toEqual([
      [['Ann', 'Bob'], 2],
      [['Ann'], 1],
    ]);
  });

  it('anonymous visitors share one name: the frame says how many there are', async () => {
    const ann = enter('anon', true, 'Ann');
    enter('anon', false, 'Anonymous troll');
    enter('anon', true, 'Anonymous troll');
    enter('anon', false, 'Anonymous troll');
    await jest.advanceTimersByTimeAsync(100);
    expect(presenceFrames(ann).at(-1)).toMatchObject({
      members: ['Ann', 'Anonymous troll'],
      count: 4,
      anonymous: 3,
    });
  });

  it('a room with only plain sockets reads no member list', async () => {
    const members = jest.spyOn(tracker, 'members');
    enter('plain-only', false);
    await jest.advanceTimersByTimeAsync(100);
    expect(notices).toHaveLength(1);
    expect(members).not.toHaveBeenCalled();
  });

  it('refreshAll (an instance died) refreshes every local room', async () => {
    const a = enter('a', true);
    const b = enter('b', true);
    await jest.advanceTimersByTimeAsync(100);
    announcer.refreshAll();
    await jest.advanceTimersByTimeAsync(50);
    expect(presenceFrames(a)).toHaveLength(2);
    expect(presenceFrames(b)).toHaveLength(2);
  });

  it('after stop(), nothing is announced or sent', async () => {
    const ann = enter('a', true);
    announcer.stop();
    enter('a', true);
    announcer.left(ann);
    announcer.refresh('a');
    await jest.advanceTimersByTimeAsync(200);
    expect(notices).toEqual([]);
    expect(presenceFrames(ann)).toEqual([]);
  });
});
