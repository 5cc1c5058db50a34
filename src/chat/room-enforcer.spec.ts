import { Logger } from '@nestjs/common';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatClient } from './chat-client';
import { FakeChatSocket } from './chat.fakes';
import type { ChatService } from './chat.service';
import type { HistoryService } from './history.service';
import { RoomEnforcer } from './room-enforcer';
import type { RoomPolicies } from './room-policies';
import { OPEN_ACCESS, RoomPolicy, RoomRules, Visitor } from './room-rules';

const flush = () => new Promise((r) => setImmediate(r));

/** One instance's side of rule changes and moderation, with fake sockets, rules and history. */
describe('RoomEnforcer', () => {
  let clients: (ChatClient & { ws: FakeChatSocket })[];
  let layer: InMemoryChannelLayer;
  let policy: RoomPolicy;
  let policies: {
    invalidate: jest.Mock;
    clear: jest.Mock;
    get: jest.Mock;
    groupsOf: jest.Mock;
    undeclared: string;
  };
  let history: { discard: jest.Mock };
  let n = 0;

  const client = (room: string, userId: number | null, v1 = true, visitor: Partial<Visitor> = {}) => {
    const c = new ChatClient(
      `c${++n}`,
      new FakeChatSocket(),
      room,
      `u${userId}`,
      userId,
      v1,
    ) as ChatClient & {
      ws: FakeChatSocket;
    };
    c.visitor = { userId, staff: false, superuser: false, groups: null, ...visitor };
    clients.push(c);
    return c;
  };
  const rules = (over: Partial<RoomRules>): RoomRules => ({
    join: 'anyone',
    post: 'anyone',
    topic: '',
    moderatorGroup: null,
    memberUsers: new Set(),
    memberGroups: new Set(),
    ...over,
  });

  beforeEach(() => {
    clients = [];
    layer = new InMemoryChannelLayer();
    policy = { room: 'r', rules: null, bans: new Map(), mutes: new Map() };
    policies = {
      invalidate: jest.fn(),
      clear: jest.fn(),
      get: jest.fn(async () => policy),
      groupsOf: jest.fn(async (user: number) => new Set(user === 6 ? [7] : [])),
      undeclared: 'open',
    };
    history = { discard: jest.fn() };
    const chat = {
      clientsIn: (room: string) => clients.filter((c) => c.room === room && c.ws.closedWith === null),
      // As ChatService.closeSockets: the user's sockets, narrowed to the room.
      closeSockets: (who: { userId: number; room: string }, close: { code: number; reason: string }) => {
        const found = clients.filter((c) => c.userId === who.userId && c.room === who.room);
        for (const c of found) c.ws.close(close.code, close.reason);
        return found.length;
      },
      localRooms: () => [...new Set(clients.map((c) => c.room))].map((room) => ({ room, members: 1 })),
    };
    new RoomEnforcer(
      chat as unknown as ChatService,
      layer,
      policies as unknown as RoomPolicies,
      history as unknown as HistoryService,
    ).onModuleInit();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation();
  });
  afterEach(() => jest.restoreAllMocks());

  it('kick: closes the user’s sockets in that room, both protocols, with 4010 and the reason; no one else’s', () => {
    const [a, b, other, elsewhere] = [client('r', 5), client('r', 5, false), client('r', 6), client('s', 5)];
    layer.controlSend({ type: 'kick', room: 'r', user: 5, reason: 'cool down' });
    for (const c of [a, b])
      expect(c.ws.closedWith).toEqual({ code: 4010, reason: 'kicked by a moderator: cool down' });
    expect(other.ws.closedWith).toBeNull();
    expect(elsewhere.ws.closedWith).toBeNull();
  });

  it('ban: forgets the room’s cached rules and closes with 4011; a lifted ban closes nothing', () => {
    const a = client('r', 5);
    layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 5,
      kind: 'ban',
      lifted: true,
      until: null,
      reason: '',
    });
    expect(a.ws.closedWith).toBeNull();
    layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 5,
      kind: 'ban',
      lifted: false,
      until: null,
      reason: '',
    });
    expect(a.ws.closedWith).toEqual({ code: 4011, reason: 'banned from this room' });
    expect(policies.invalidate).toHaveBeenCalledWith('r');
  });

  it('mute: the user’s sockets are muted (live.v1 told why), unmute lifts it; moderators are left alone', () => {
    const v1 = client('r', 5);
    const plain = client('r', 5, false);
    const mod = client('r', 9);
    mod.access = { ...OPEN_ACCESS, moderator: true };
    const until = Date.UTC(2030, 0, 1);
    layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 5,
      kind: 'mute',
      lifted: false,
      until,
      reason: 'x',
    });
    layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 9,
      kind: 'mute',
      lifted: false,
      until,
      reason: 'x',
    });
    expect(v1.access.mutedUntil).toBe(until);
    expect(plain.access.mutedUntil).toBe(until);
    expect(mod.access.mutedUntil).toBe(0);
    expect(v1.ws.frames()).toEqual([
      {
        type: 'muted',
        room: 'r',
        until: '2030-01-01T00:00:00.000Z',
        reason: 'x',
        message: expect.any(String),
      },
    ]);
    expect(plain.ws.sent).toEqual([]);
    layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 5,
      kind: 'mute',
      lifted: false,
      until: null,
      reason: '',
    });
    expect(v1.access.mutedUntil).toBe(Infinity);
    layer.controlSend({
      type: 'sanction',
      room: 'r',
      user: 5,
      kind: 'mute',
      lifted: true,
      until: null,
      reason: '',
    });
    expect(v1.access.mutedUntil).toBe(0);
    expect(v1.ws.frames().at(-1)).toEqual({ type: 'unmuted', room: 'r' });
  });

  it('deleted: history discards it, live.v1 sockets are told, a joining socket’s held copy is dropped', () => {
    const v1 = client('r', null);
    const plain = client('r', null, false);
    const joining = client('r', null);
    joining.ready = false;
    joining.pending = [
      { id: 3, room: 'r', user: null, name: 'x', text: 'bad', ts: '' },
      { id: 4, room: 'r', user: null, name: 'x', text: 'ok', ts: '' },
    ];
    layer.controlSend({ type: 'deleted', room: 'r', id: 3 });
    expect(history.discard).toHaveBeenCalledWith('r', 3);
    expect(v1.ws.frames()).toEqual([{ type: 'deleted', room: 'r', id: 3 }]);
    expect(plain.ws.sent).toEqual([]);
    expect(joining.pending.map((m) => m.id)).toEqual([4]);
  });

  it('rules: re-decides the room’s sockets: those shut out get 4012, the others their new rights', async () => {
    const anon = client('r', null, false);
    const bob = client('r', 5);
    const member = client('r', 6, true, { groups: null });
    policy = {
      ...policy,
      rules: rules({ join: 'users', post: 'members', topic: 'T', memberGroups: new Set([7]) }),
    };
    layer.controlSend({ type: 'rules', room: 'r' });
    await flush();
    await flush();
    expect(policies.invalidate).toHaveBeenCalledWith('r');
    expect(anon.ws.closedWith).toEqual({
      code: 4012,
      reason: 'the room’s rules no longer let you in: Log in to join this room',
    });
    expect(bob.ws.frames()).toEqual([
      { type: 'room', room: 'r', topic: 'T', readOnly: 'Only members may post in this room' },
    ]);
    expect(member.ws.frames()).toEqual([{ type: 'room', room: 'r', topic: 'T' }]);
    expect(member.visitor.groups).toEqual(new Set([7]));
    expect(bob.access.postRefusal).toBe('Only members may post in this room');
  });

  it('rules that cannot be read leave the sockets as they were; resync forgets every room and re-decides', async () => {
    const bob = client('r', 5);
    policies.get.mockRejectedValueOnce(new Error('Database unavailable'));
    layer.controlSend({ type: 'rules', room: 'r' });
    await flush();
    expect(bob.ws.closedWith).toBeNull();
    expect(bob.access).toBe(OPEN_ACCESS);
    policy = { ...policy, bans: new Map([[5, { until: null, reason: 'gone' }]]) };
    layer.controlSend({ type: 'resync' });
    await flush();
    await flush();
    expect(policies.clear).toHaveBeenCalled();
    expect(bob.ws.closedWith).toEqual({ code: 4011, reason: 'banned from this room: gone' });
  });
});
