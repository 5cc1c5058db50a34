import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatJoin } from './chat-client';
import { ChatConnection, closeReasonLabel, ConnectionContext } from './chat-connection';
import { ChatMessage } from './chat.protocol';
import { fakeClient, FakeChatSocket, RecordingLog } from './chat.fakes';
import { JoinReplay } from './join-replay';
import { InMemoryPresence } from './presence';
import { PresenceAnnouncer } from './presence-announcer';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';

describe('ChatConnection', () => {
  let posted: [string, number | null, string, string][];
  let chat: {
    stopping: boolean;
    post: (room: string, user: number | null, name: string, text: string) => ChatMessage;
  };
  let hub: RoomHub;
  let tracker: InMemoryPresence;
  let metrics: MetricsService;
  let log: RecordingLog;
  let context: ConnectionContext;
  let now = 5_000;

  const join = (v1: boolean): ChatJoin => ({
    room: 'lobby',
    name: 'Ann',
    userId: null,
    v1,
    history: 0,
    since: null,
  });
  const open = (v1: boolean, ws = new FakeChatSocket()) => {
    const client = fakeClient('lobby', v1, 'Ann', ws);
    new ChatConnection(client, context).open(join(v1));
    return client;
  };
  const closedCount = async (code: string) =>
    (await metrics.chatSocketsClosed.get()).values.find((v) => v.labels.code === code)?.value ?? 0;

  beforeEach(() => {
    posted = [];
    chat = {
      stopping: false,
      post: (room, user, name, text) => {
        posted.push([room, user, name, text]);
        return { id: posted.length, room, user, name, text, ts: 'now' };
      },
    };
    const layer = new InMemoryChannelLayer();
    log = new RecordingLog();
    metrics = new MetricsService();
    tracker = new InMemoryPresence();
    hub = new RoomHub(layer, new SlowConsumerGuard(1 << 20, log), metrics, log);
    const history = { recent: async () => [], after: async () => ({ messages: [], truncated: false }) };
    context = {
      chat,
      hub,
      replay: new JoinReplay(
        {
          historyDefault: 0,
          historyMax: 500,
          historyJoinTimeoutMs: 100,
          historyFlushMs: 25,
        },
        history,
        hub,
        log,
      ),
      presence: new PresenceAnnouncer(tracker, layer, hub, log),
      metrics,
      config: { rate: 1, burst: 2, floodStrikes: 3 },
      log,
      now: () => now,
    };
  });

  it('greets in the socket protocol, joins the room and the presence list', async () => {
    const v1 = open(true);
    const plain = open(false);
    expect(v1.ws.frames()).toEqual([
      { type: 'welcome', room: 'lobby', name: 'Ann', user: null, text: 'Bienvenue Ann !' },
    ]);
    expect(plain.ws.texts()).toEqual(['Bienvenue Ann !']);
    expect(hub.clients()).toEqual([v1, plain]);
    await Promise.resolve();
    expect(await tracker.connections('lobby')).toEqual([v1.id, plain.id]);
  });

  it('posts the text of a plain frame, and of a live.v1 message frame', () => {
    const plain = open(false);
    const v1 = open(true);
    plain.ws.receive('hello <b>');
    v1.ws.receive(JSON.stringify({ type: 'message', text: 'from v1' }));
    expect(posted).toEqual([
      ['lobby', null, 'Ann', 'hello <b>'],
      ['lobby', null, 'Ann', 'from v1'],
    ]);
  });

  it('refuses what live.v1 cannot parse with bad_request, and NUL in either protocol', () => {
    const v1 = open(true);
    const plain = open(false);
    const bad = ['not json', '{"type":"typing"}', '{"type":"message","text":5}'];
    bad.push(JSON.stringify({ type: 'message', text: 'a\u0000b' }));
    for (const frame of bad) {
      now += 1000; // within the rate: each frame is judged on what it says
      v1.ws.receive(frame);
    }
    plain.ws.receive('a\u0000b');
    expect(posted).toEqual([]);
    expect(v1.ws.frames().slice(1)).toEqual([
      { type: 'error', code: 'bad_request', message: 'Expected a JSON object {"type":"message","text":"…"}' },
      { type: 'error', code: 'bad_request', message: 'Unknown frame type; expected "message"' },
      { type: 'error', code: 'bad_request', message: 'A message needs a "text" string' },
      { type: 'error', code: 'bad_request', message: 'Text must not contain NUL (U+0000) characters' },
    ]);
    expect(plain.ws.texts()).toEqual(['Bienvenue Ann !']); // the seed protocol has no error frame
  });

  it('closes on a binary frame with 1003', () => {
    const v1 = open(true);
    v1.ws.receive(Buffer.from([1, 2, 3]), true);
    expect(v1.ws.closedWith).toEqual({ code: 1003, reason: 'binary frames are not accepted; send text' });
    expect(posted).toEqual([]);
  });

  it('flood: over the bucket a frame is dropped (live.v1 told rate_limited), at CHAT_FLOOD_STRIKES the socket is closed with 1008', async () => {
    const v1 = open(true);
    const plain = open(false);
    for (let i = 0; i < 5; i++) v1.ws.receive(JSON.stringify({ type: 'message', text: `v${i}` }));
    for (let i = 0; i < 4; i++) plain.ws.receive(`p${i}`);
    // burst 2: two of each posted; then strikes 1, 2 dropped, the third closes.
    expect(posted.map((p) => p[3])).toEqual(['v0', 'v1', 'p0', 'p1']);
    const errors = v1.ws.frames().filter((f) => f.type === 'error');
    expect(errors).toEqual([
      { type: 'error', code: 'rate_limited', message: 'Slow down: at most 1 messages per second' },
      { type: 'error', code: 'rate_limited', message: 'Slow down: at most 1 messages per second' },
    ]);
    expect(v1.ws.closedWith).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(plain.ws.closedWith).toBeNull(); // 2 strikes so far
    expect(plain.ws.texts()).toEqual(['Bienvenue Ann !']);
    plain.ws.receive('p4');
    expect(plain.ws.closedWith?.code).toBe(1008);
    expect(log.entries.filter((e) => e.fields.event === 'socket_flood_closed')).toEqual([
      { level: 'warn', fields: { event: 'socket_flood_closed', room: 'lobby', name: 'Ann' } },
      { level: 'warn', fields: { event: 'socket_flood_closed', room: 'lobby', name: 'Ann' } },
    ]);
    expect(await closedCount('1008')).toBe(2);
  });

  it('accepts nothing while the chat is stopping', () => {
    const v1 = open(true);
    chat.stopping = true;
    v1.ws.receive(JSON.stringify({ type: 'message', text: 'late' }));
    v1.ws.receive(Buffer.from([0]), true);
    expect(posted).toEqual([]);
    expect(v1.ws.closedWith).toBeNull();
  });

  it('a pong marks the socket alive; a close leaves the room and the presence list, counted by code', async () => {
    const a = open(true);
    const b = open(false);
    a.alive = false;
    a.ws.emit('pong');
    expect(a.alive).toBe(true);
    await Promise.resolve();
    a.ws.drop();
    expect(hub.clients()).toEqual([b]);
    await Promise.resolve();
    expect(await tracker.connections('lobby')).toEqual([b.id]);
    expect(await closedCount('1006')).toBe(1);
    expect(closeReasonLabel(1013)).toBe('slow_consumer');
    expect(closeReasonLabel(4000)).toBe('other');
  });
});
