import {
  ANONYMOUS_VISITOR,
  decideJoin,
  isMuted,
  mutedText,
  needsGroups,
  RoomPolicy,
  RoomRules,
  Visitor,
} from './room-rules';

const NOW = Date.UTC(2026, 0, 1);
const rules = (over: Partial<RoomRules> = {}): RoomRules => ({
  join: 'anyone',
  post: 'anyone',
  topic: '',
  moderatorGroup: null,
  memberUsers: new Set(),
  memberGroups: new Set(),
  ...over,
});
const policy = (r: RoomRules | null, over: Partial<RoomPolicy> = {}): RoomPolicy => ({
  room: 'r',
  rules: r,
  bans: new Map(),
  mutes: new Map(),
  ...over,
});
const user = (userId: number, over: Partial<Visitor> = {}): Visitor => ({
  userId,
  staff: false,
  superuser: false,
  groups: new Set(),
  ...over,
});
const staff = user(1, { staff: true });

describe('decideJoin', () => {
  it('an undeclared room: everyone joins and posts (today), or 404 for all when undeclared rooms are closed', () => {
    for (const v of [ANONYMOUS_VISITOR, user(5), staff]) {
      const open = decideJoin(policy(null), v, 'open', NOW);
      expect(open).toEqual({
        ok: true,
        access: { postRefusal: null, moderator: v.staff, mutedUntil: 0, muteReason: '', topic: '' },
      });
      expect(decideJoin(policy(null), v, 'closed', NOW)).toMatchObject({ ok: false, status: 404 });
    }
    expect(decideJoin(policy(rules()), ANONYMOUS_VISITOR, 'closed', NOW).ok).toBe(true);
  });

  it('join users: anonymous 401, any user in', () => {
    const p = policy(rules({ join: 'users' }));
    expect(decideJoin(p, ANONYMOUS_VISITOR, 'open', NOW)).toEqual({
      ok: false,
      status: 401,
      message: 'Log in to join this room',
    });
    expect(decideJoin(p, user(5), 'open', NOW).ok).toBe(true);
  });

  it('join members: listed users and members of listed groups; others 403, anonymous 401; moderators always', () => {
    const p = policy(
      rules({ join: 'members', memberUsers: new Set([5]), memberGroups: new Set([9]), moderatorGroup: 3 }),
    );
    expect(decideJoin(p, user(5), 'open', NOW).ok).toBe(true);
    expect(decideJoin(p, user(6, { groups: new Set([9]) }), 'open', NOW).ok).toBe(true);
    expect(decideJoin(p, user(7, { groups: new Set([8]) }), 'open', NOW)).toEqual({
      ok: false,
      status: 403,
      message: 'Only members may join this room',
    });
    expect(decideJoin(p, ANONYMOUS_VISITOR, 'open', NOW)).toMatchObject({ ok: false, status: 401 });
    expect(decideJoin(p, staff, 'open', NOW)).toMatchObject({ ok: true, access: { moderator: true } });
    expect(decideJoin(p, user(8, { groups: new Set([3]) }), 'open', NOW)).toMatchObject({
      ok: true,
      access: { moderator: true, postRefusal: null },
    });
  });

  it('post rules: anyone, users, members, moderators; the refusal says why', () => {
    const refusal = (post: RoomRules['post'], v: Visitor) =>
      decideJoin(policy(rules({ post, memberUsers: new Set([5]), moderatorGroup: 3 })), v, 'open', NOW);
    expect(refusal('anyone', ANONYMOUS_VISITOR)).toMatchObject({ access: { postRefusal: null } });
    expect(refusal('users', ANONYMOUS_VISITOR)).toMatchObject({
      access: { postRefusal: 'Log in to post in this room' },
    });
    expect(refusal('users', user(6))).toMatchObject({ access: { postRefusal: null } });
    expect(refusal('members', user(6))).toMatchObject({
      access: { postRefusal: 'Only members may post in this room' },
    });
    expect(refusal('members', user(5))).toMatchObject({ access: { postRefusal: null } });
    expect(refusal('moderators', user(5))).toMatchObject({
      access: { postRefusal: 'Only moderators may post in this room' },
    });
    expect(refusal('moderators', staff)).toMatchObject({ access: { postRefusal: null } });
    expect(refusal('moderators', user(6, { groups: new Set([3]) }))).toMatchObject({
      access: { postRefusal: null },
    });
  });

  it('a ban refuses with 403 until it expires, with its reason; a lapsed one does not; moderators are never refused', () => {
    const p = policy(null, {
      bans: new Map([
        [5, { until: NOW + 60_000, reason: 'spam' }],
        [6, { until: NOW - 1, reason: 'old' }],
        [7, { until: null, reason: '' }],
        [1, { until: null, reason: '' }],
      ]),
    });
    expect(decideJoin(p, user(5), 'open', NOW)).toEqual({
      ok: false,
      status: 403,
      message: `You are banned from this room until ${new Date(NOW + 60_000).toISOString()}: spam`,
    });
    expect(decideJoin(p, user(6), 'open', NOW).ok).toBe(true);
    expect(decideJoin(p, user(7), 'open', NOW)).toMatchObject({ message: 'You are banned from this room' });
    expect(decideJoin(p, staff, 'open', NOW).ok).toBe(true);
  });

  it('a mute is carried into the access (Infinity when it has no end), not for others', () => {
    const p = policy(null, {
      mutes: new Map([
        [5, { until: NOW + 1000, reason: 'calm down' }],
        [7, { until: null, reason: '' }],
      ]),
    });
    const five = decideJoin(p, user(5), 'open', NOW);
    expect(five).toMatchObject({ ok: true, access: { mutedUntil: NOW + 1000, muteReason: 'calm down' } });
    if (!five.ok) throw new Error('unreachable');
    expect(isMuted(five.access, NOW)).toBe(true);
    expect(isMuted(five.access, NOW + 1000)).toBe(false);
    expect(mutedText(five.access)).toBe(
      `You are muted in this room until ${new Date(NOW + 1000).toISOString()}: calm down`,
    );
    const seven = decideJoin(p, user(7), 'open', NOW);
    expect(seven).toMatchObject({ ok: true, access: { mutedUntil: Infinity } });
    if (seven.ok) expect(mutedText(seven.access)).toBe('You are muted in this room');
    expect(decideJoin(p, user(6), 'open', NOW)).toMatchObject({ access: { mutedUntil: 0 } });
  });

  it('carries the topic', () => {
    expect(
      decideJoin(policy(rules({ topic: 'Announcements' })), ANONYMOUS_VISITOR, 'open', NOW),
    ).toMatchObject({
      access: { topic: 'Announcements' },
    });
  });
});

describe('needsGroups', () => {
  it('only for a logged-in non-staff visitor whose groups are unknown, in a room whose rules name groups', () => {
    const unknown = user(5, { groups: null });
    expect(needsGroups(policy(null), unknown)).toBe(false);
    expect(needsGroups(policy(rules({ join: 'members', memberUsers: new Set([5]) })), unknown)).toBe(false);
    expect(needsGroups(policy(rules({ memberGroups: new Set([2]) })), unknown)).toBe(true);
    expect(needsGroups(policy(rules({ moderatorGroup: 2 })), unknown)).toBe(true);
    expect(needsGroups(policy(rules({ moderatorGroup: 2 })), user(5))).toBe(false);
    expect(needsGroups(policy(rules({ moderatorGroup: 2 })), ANONYMOUS_VISITOR)).toBe(false);
    expect(needsGroups(policy(rules({ moderatorGroup: 2 })), { ...staff, groups: null })).toBe(false);
  });
});
