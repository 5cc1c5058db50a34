import type { User } from '../auth/user.entity';
import { MetricsService } from '../metrics/metrics.service';
import { ChatConfig } from './chat.config';
import { ChatError } from './chat.exception';
import type { ChatMessage } from './chat.protocol';
import type { ChatService } from './chat.service';
import { PublishService } from './publish.service';
import type { RoomPolicies } from './room-policies';
import { JoinDecision, OPEN_ACCESS, Visitor } from './room-rules';

const joe = {
  id: 7,
  username: 'joe',
  firstName: 'Joe',
  lastName: 'Cool',
  isStaff: false,
  isSuperuser: false,
} as User;

describe('PublishService', () => {
  let decisions: Record<string, JoinDecision>;
  let posted: ChatMessage[];
  let stopping: boolean;
  let visitors: Visitor[];
  let service: PublishService;

  beforeEach(() => {
    decisions = {};
    posted = [];
    stopping = false;
    visitors = [];
    const chat = {
      get stopping() {
        return stopping;
      },
      post: (room: string, user: number | null, name: string, text: string, bot = false) => {
        const m: ChatMessage = { id: posted.length + 1, room, user, name, text, ts: 'now' };
        if (bot) m.bot = true;
        posted.push(m);
        return m;
      },
    } as unknown as ChatService;
    const policies = {
      admit: (room: string, visitor: Visitor) => {
        visitors.push(visitor);
        return Promise.resolve({ decision: decisions[room] ?? { ok: true, access: OPEN_ACCESS }, visitor });
      },
    } as unknown as RoomPolicies;
    service = new PublishService(
      chat,
      policies,
      new ChatConfig({ CHAT_MAX_MESSAGE_BYTES: '32' }),
      new MetricsService(),
    );
  });

  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (err: ChatError) => [err.status, err.message],
    );

  it('posts as the user’s display name, or as a bot for a moderator', async () => {
    expect(await service.publish(joe, 'lobby', 'hi')).toEqual({
      id: 1,
      room: 'lobby',
      user: 7,
      name: 'Joe Cool',
      text: 'hi',
      ts: 'now',
      bot: false,
    });
    expect(posted[0]).not.toHaveProperty('bot');
    expect(visitors[0]).toEqual({ userId: 7, staff: false, superuser: false, groups: null });
    decisions.mods = { ok: true, access: { ...OPEN_ACCESS, moderator: true } };
    expect(await service.publish(joe, 'mods', 'done', 'CI')).toMatchObject({
      name: 'CI',
      user: 7,
      bot: true,
    });
    expect(posted[1].bot).toBe(true);
  });

  it('refuses as a socket would: joins, post rules, mutes; a bot name without moderating', async () => {
    decisions.closed = { ok: false, status: 404, message: 'There is no room named closed' };
    decisions.members = { ok: false, status: 403, message: 'Only members may join this room' };
    decisions.news = {
      ok: true,
      access: { ...OPEN_ACCESS, postRefusal: 'Only moderators may post in this room' },
    };
    decisions.quiet = { ok: true, access: { ...OPEN_ACCESS, mutedUntil: Infinity, muteReason: 'spam' } };
    decisions.was = {
      ok: true,
      access: { ...OPEN_ACCESS, mutedUntil: Date.now() - 1000, muteReason: 'old' },
    };
    expect(await refusal(service.publish(joe, 'closed', 'x'))).toEqual([
      404,
      'There is no room named closed',
    ]);
    expect(await refusal(service.publish(joe, 'members', 'x'))).toEqual([
      403,
      'Only members may join this room',
    ]);
    expect(await refusal(service.publish(joe, 'news', 'x'))).toEqual([
      403,
      'Only moderators may post in this room',
    ]);
    expect(await refusal(service.publish(joe, 'quiet', 'x'))).toEqual([
      403,
      'You are muted in this room: spam',
    ]);
    expect(await refusal(service.publish(joe, 'lobby', 'x', 'Admin'))).toEqual([
      403,
      'Only staff and the room’s moderators may post under a bot name',
    ]);
    expect(posted).toEqual([]);
    await service.publish(joe, 'was', 'an ended mute is no mute');
    expect(posted).toHaveLength(1);
  });

  it('checks the text and the name before any room', async () => {
    expect(await refusal(service.publish(joe, 'lobby', 'x'.repeat(33)))).toEqual([
      400,
      'text is 33 bytes of UTF-8; a chat message may have at most 32 (CHAT_MAX_MESSAGE_BYTES)',
    ]);
    expect((await refusal(service.publish(joe, 'lobby', 'a\u0000')))?.[0]).toBe(400);
    expect((await refusal(service.publish(joe, 'lobby', 'a', 'tab\there')))?.[0]).toBe(400);
    expect(visitors).toEqual([]);
  });

  it('broadcast checks every room first: one refusal (the first in order) posts nothing', async () => {
    decisions.b = { ok: true, access: { ...OPEN_ACCESS, postRefusal: 'Log in to post in this room' } };
    decisions.c = { ok: false, status: 403, message: 'Only members may join this room' };
    expect(await refusal(service.broadcast(joe, ['a', 'b', 'c'], 'x'))).toEqual([
      403,
      'b: Log in to post in this room',
    ]);
    expect(posted).toEqual([]);
    const messages = await service.broadcast(joe, ['a', 'd'], 'x');
    expect(messages.map((m) => [m.room, m.id])).toEqual([
      ['a', 1],
      ['d', 2],
    ]);
  });

  it('answers 503 while the server stops, before and after the checks', async () => {
    stopping = true;
    expect(await refusal(service.publish(joe, 'lobby', 'x'))).toEqual([
      503,
      'The server is shutting down; retry (another instance will answer)',
    ]);
    expect(posted).toEqual([]);
  });
});
