import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatJoin } from './chat-client';
import { ChatConnection, ConnectionContext } from './chat-connection';
import { ChatMessage, ServerFrame } from './chat.protocol';
import { fakeClient, FakeChatSocket, RecordingLog } from './chat.fakes';
import { JoinReplay } from './join-replay';
import { InMemoryPresence } from './presence';
import { PresenceAnnouncer } from './presence-announcer';
import { RoomHub } from './room-hub';
import { OPEN_ACCESS, RoomAccess } from './room-rules';
import { SlowConsumerGuard } from './slow-consumer';

/** A socket's rights in its room, as ChatConnection applies them to what it sends. */
describe('ChatConnection with room rules', () => {
  let posted: string[];
  let context: ConnectionContext;
  let commands: unknown[];

  const open = (v1: boolean, access: RoomAccess = OPEN_ACCESS) => {
    const client = fakeClient('lobby', v1, 'Ann', new FakeChatSocket());
    const join: ChatJoin = { room: 'lobby', name: 'Ann', userId: null, v1, history: 0, since: null, access };
    new ChatConnection(client, context).open(join);
    return client;
  };
  const errors = (ws: FakeChatSocket) => ws.frames().filter((f) => f.type === 'error');

  beforeEach(() => {
    posted = [];
    commands = [];
    const layer = new InMemoryChannelLayer();
    const log = new RecordingLog();
    const metrics = new MetricsService();
    const hub = new RoomHub(layer, new SlowConsumerGuard(1 << 20, log), metrics, log);
    const history = { recent: async () => [], after: async () => ({ messages: [], truncated: false }) };
    context = {
      chat: {
        stopping: false,
        post: (room, user, name, text): ChatMessage => {
          posted.push(text);
          return { id: posted.length, room, user, name, text, ts: 'now' };
        },
      },
      hub,
      replay: new JoinReplay(
        { historyDefault: 0, historyMax: 500, historyJoinTimeoutMs: 100, historyFlushMs: 25 },
        history,
        hub,
        log,
      ),
      presence: new PresenceAnnouncer(new InMemoryPresence(), layer, hub, log),
      metrics,
      config: { rate: 100, burst: 100, floodStrikes: 100 },
      log,
      moderation: {
        fromSocket: async (_client, command): Promise<ServerFrame> => {
          commands.push(command);
          return { type: 'moderated', room: 'lobby', action: 'kick', user: 5 };
        },
      },
    };
  });

  it('a room without rules: the welcome is as before and posts go through', () => {
    const v1 = open(true);
    expect(v1.ws.frames()).toEqual([
      { type: 'welcome', room: 'lobby', name: 'Ann', user: null, text: 'Bienvenue Ann !' },
    ]);
    v1.ws.receive(JSON.stringify({ type: 'message', text: 'hi' }));
    expect(posted).toEqual(['hi']);
  });

  it('a post rule refuses with forbidden (live.v1) or silence (plain), and the welcome says so', () => {
    const access = { ...OPEN_ACCESS, postRefusal: 'Only moderators may post in this room', topic: 'News' };
    const v1 = open(true, access);
    const plain = open(false, access);
    expect(v1.ws.frames()[0]).toMatchObject({
      topic: 'News',
      readOnly: 'Only moderators may post in this room',
    });
    v1.ws.receive(JSON.stringify({ type: 'message', text: 'x' }));
    plain.ws.receive('y');
    expect(posted).toEqual([]);
    expect(errors(v1.ws)).toEqual([
      { type: 'error', code: 'forbidden', message: 'Only moderators may post in this room' },
    ]);
    expect(plain.ws.texts()).toEqual(['Bienvenue Ann !']);
  });

  it('a mute refuses with muted and its end until it ends; a lapsed mute refuses nothing', () => {
    const until = Date.now() + 60_000;
    const v1 = open(true, { ...OPEN_ACCESS, mutedUntil: until, muteReason: 'calm' });
    expect(v1.ws.frames()[1]).toMatchObject({ type: 'muted', reason: 'calm' });
    v1.ws.receive(JSON.stringify({ type: 'message', text: 'x' }));
    expect(errors(v1.ws)).toEqual([
      {
        type: 'error',
        code: 'muted',
        message: `You are muted in this room until ${new Date(until).toISOString()}: calm`,
        until: new Date(until).toISOString(),
      },
    ]);
    const lapsed = open(true, { ...OPEN_ACCESS, mutedUntil: Date.now() - 1, muteReason: 'old' });
    lapsed.ws.receive(JSON.stringify({ type: 'message', text: 'free' }));
    expect(posted).toEqual(['free']);
    expect(lapsed.ws.frames().map((f) => f.type)).toEqual(['welcome']);
  });

  it('moderation frames: refused for a non-moderator, handed to moderation for a moderator', async () => {
    const anyone = open(true);
    anyone.ws.receive(JSON.stringify({ type: 'kick', user: 5 }));
    expect(errors(anyone.ws)).toEqual([
      { type: 'error', code: 'forbidden', message: 'Only moderators of this room may do that' },
    ]);
    const mod = open(true, { ...OPEN_ACCESS, moderator: true });
    expect(mod.ws.frames()[0]).toMatchObject({ moderator: true });
    mod.ws.receive(JSON.stringify({ type: 'kick', user: 5, reason: 'r' }));
    mod.ws.receive(JSON.stringify({ type: 'kick', user: 'five' }));
    await new Promise((r) => setImmediate(r));
    expect(commands).toEqual([{ action: 'kick', user: 5, reason: 'r' }]);
    expect(mod.ws.frames().slice(1)).toEqual([
      { type: 'error', code: 'bad_request', message: 'kick needs "user": a user id (1 to 2147483647)' },
      { type: 'moderated', room: 'lobby', action: 'kick', user: 5 },
    ]);
    expect(posted).toEqual([]);
  });
});
