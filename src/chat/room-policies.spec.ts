import { markConnectionFailure } from '../database/database-errors';
import { ChatConfig } from './chat.config';
import { ChatError } from './chat.exception';
import { RoomPolicies } from './room-policies';

/** The per-room cache of rules and sanctions, over fake repositories. */
describe('RoomPolicies', () => {
  let roomRow: object | null;
  let sanctions: object[];
  let rooms: { findOneBy: jest.Mock };
  let members: { findBy: jest.Mock };
  let sanctionRepo: { find: jest.Mock };
  let userGroups: { find: jest.Mock };
  let policies: RoomPolicies;
  const staff = { userId: 1, staff: true, superuser: false, groups: null };
  const user = (userId: number) => ({ userId, staff: false, superuser: false, groups: null });

  beforeEach(() => {
    roomRow = null;
    sanctions = [];
    rooms = { findOneBy: jest.fn(async () => roomRow) };
    members = { findBy: jest.fn(async () => [{ room: 'r', userId: null, groupId: 4 }]) };
    sanctionRepo = { find: jest.fn(async () => sanctions) };
    userGroups = { find: jest.fn(async () => [{ groupId: 4 }]) };
    policies = new RoomPolicies(
      rooms as never,
      members as never,
      sanctionRepo as never,
      userGroups as never,
      new ChatConfig({ CHAT_HISTORY_JOIN_TIMEOUT_MS: '100' }),
    );
  });

  it('reads a room once: later joins (concurrent ones too) are served from the cache', async () => {
    const [a, b] = await Promise.all([policies.get('r'), policies.get('r')]);
    expect(a).toBe(b);
    await policies.admit('r', user(5));
    expect(rooms.findOneBy).toHaveBeenCalledTimes(1);
    expect(a).toEqual({ room: 'r', rules: null, bans: new Map(), mutes: new Map() });
  });

  it('invalidate: the next join reads again; a read overtaken by invalidate() is not kept', async () => {
    let release!: () => void;
    rooms.findOneBy.mockImplementationOnce(() => new Promise((resolve) => (release = () => resolve(null))));
    const first = policies.get('r');
    await new Promise((r) => setImmediate(r));
    policies.invalidate('r');
    roomRow = { room: 'r', join: 'users', post: 'anyone', topic: '', moderatorGroupId: null };
    release();
    expect((await first).rules).toBeNull(); // its caller gets what it read
    expect((await policies.get('r')).rules).toMatchObject({ join: 'users' }); // not cached: read again
    expect(rooms.findOneBy).toHaveBeenCalledTimes(2);
  });

  it('active sanctions only: lapsed ones are left out, mutes and bans apart', async () => {
    const now = Date.now();
    sanctions = [
      { userId: 5, kind: 'ban', reason: 'b', expiresAt: null },
      { userId: 6, kind: 'mute', reason: 'm', expiresAt: new Date(now + 60_000) },
      { userId: 7, kind: 'mute', reason: 'old', expiresAt: new Date(now - 1) },
    ];
    const p = await policies.get('r');
    expect([...p.bans]).toEqual([[5, { until: null, reason: 'b' }]]);
    expect([...p.mutes]).toEqual([[6, { until: now + 60_000, reason: 'm' }]]);
  });

  it('reads a user’s groups only when the rules name groups, and not for staff', async () => {
    await policies.admit('r', user(5));
    expect(userGroups.find).not.toHaveBeenCalled();
    roomRow = { room: 'r', join: 'members', post: 'anyone', topic: '', moderatorGroupId: null };
    policies.invalidate('r');
    const admitted = await policies.admit('r', user(5));
    expect(admitted.decision.ok).toBe(true); // a member through group 4
    expect(admitted.visitor.groups).toEqual(new Set([4]));
    expect(userGroups.find).toHaveBeenCalledTimes(1);
    await policies.admit('r', staff);
    expect(userGroups.find).toHaveBeenCalledTimes(1);
  });

  it('a read that does not answer in time is a 503 ChatError (never a hang); a cached room is still served', async () => {
    await policies.get('cached');
    rooms.findOneBy.mockImplementation(() => new Promise(() => undefined));
    const started = Date.now();
    const err = await policies.get('r').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(ChatError);
    expect(err).toMatchObject({
      status: 503,
      message: 'Database unavailable: no answer within the time limit (room rules)',
    });
    expect((await policies.admit('cached', user(5))).decision.ok).toBe(true);
  });

  it('an unavailable database is a 503 naming it; any other error is left as it is (a bug)', async () => {
    rooms.findOneBy.mockRejectedValueOnce(
      markConnectionFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    );
    await expect(policies.get('r')).rejects.toMatchObject({
      status: 503,
      message: 'Database unavailable: connection refused (room rules)',
    });
    rooms.findOneBy.mockRejectedValueOnce(new TypeError('boom'));
    await expect(policies.get('s')).rejects.toBeInstanceOf(TypeError);
  });
});
