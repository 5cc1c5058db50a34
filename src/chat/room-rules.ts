/**
 * Room rules and sanctions as the chat applies them: who may join a room, who may post in it, who
 * moderates it, and who is muted or banned. Pure functions over a room's policy (loaded once per
 * join by RoomPolicies) and the visitor behind a socket or a request.
 */

export const JOIN_RULES = ['anyone', 'users', 'members'] as const;
export const POST_RULES = ['anyone', 'users', 'members', 'moderators'] as const;
export type JoinRule = (typeof JOIN_RULES)[number];
export type PostRule = (typeof POST_RULES)[number];

/** A reason as stored (live_chat_sanction.reason, live_chat_moderation_log.reason). */
export const MAX_REASON_CHARS = 500;
/** A topic as stored (live_chat_room.topic). */
export const MAX_TOPIC_CHARS = 500;

/** What `CHAT_UNDECLARED_ROOMS` says of rooms staff never gave rules. */
export type UndeclaredRooms = 'open' | 'closed';

/** A room staff declared (a live_chat_room row with its listed members). */
export interface RoomRules {
  join: JoinRule;
  post: PostRule;
  topic: string;
  /** auth_group whose members moderate the room (staff and superusers always do). */
  moderatorGroup: number | null;
  memberUsers: ReadonlySet<number>;
  memberGroups: ReadonlySet<number>;
}

/** An active mute or ban: until when (ms since the epoch; null: until lifted), and why. */
export interface Sanction {
  until: number | null;
  reason: string;
}

/** Everything a join decision needs about one room. */
export interface RoomPolicy {
  room: string;
  /** null: the room was never declared (today's behaviour: everyone joins and posts). */
  rules: RoomRules | null;
  bans: ReadonlyMap<number, Sanction>;
  mutes: ReadonlyMap<number, Sanction>;
}

/** Who is asking, as far as rules go. */
export interface Visitor {
  userId: number | null;
  /** is_staff or is_superuser: moderates every room. */
  staff: boolean;
  superuser: boolean;
  /** The user's auth_group ids, when they were needed and read (see needsGroups). */
  groups: ReadonlySet<number> | null;
}

export const ANONYMOUS_VISITOR: Visitor = { userId: null, staff: false, superuser: false, groups: null };

/** What a socket may do in its room, decided at join and changed by moderation. */
export interface RoomAccess {
  /** Why this socket's posts are refused (`forbidden`), or null when it may post. */
  postRefusal: string | null;
  moderator: boolean;
  /** Muted until this time (ms since the epoch; Infinity: until lifted); 0 when not muted. */
  mutedUntil: number;
  muteReason: string;
  topic: string;
}

/** A socket of a room without rules: today's behaviour. */
export const OPEN_ACCESS: RoomAccess = Object.freeze({
  postRefusal: null,
  moderator: false,
  mutedUntil: 0,
  muteReason: '',
  topic: '',
});

export type JoinDecision = { ok: true; access: RoomAccess } | { ok: false; status: number; message: string };

export function isActive(sanction: Sanction | undefined, now: number): sanction is Sanction {
  return sanction !== undefined && (sanction.until === null || sanction.until > now);
}

/** Whether deciding for this visitor needs their groups (read only then: one query per join). */
export function needsGroups(policy: RoomPolicy, visitor: Visitor): boolean {
  const rules = policy.rules;
  if (!rules || visitor.userId === null || visitor.staff || visitor.groups !== null) return false;
  return rules.moderatorGroup !== null || rules.memberGroups.size > 0;
}

export function isModerator(policy: RoomPolicy, visitor: Visitor): boolean {
  if (visitor.staff) return true;
  const group = policy.rules?.moderatorGroup;
  return visitor.userId !== null && group != null && (visitor.groups?.has(group) ?? false);
}

function isMember(rules: RoomRules, visitor: Visitor): boolean {
  if (visitor.userId === null) return false;
  if (rules.memberUsers.has(visitor.userId)) return true;
  for (const g of visitor.groups ?? []) if (rules.memberGroups.has(g)) return true;
  return false;
}

/** How a time appears in a refusal: ISO 8601, UTC. */
function untilText(until: number | null): string {
  return until === null ? '' : ` until ${new Date(until).toISOString()}`;
}

function withReason(text: string, reason: string): string {
  return reason ? `${text}: ${reason}` : text;
}

/** Why `visitor` may not post under `rules`, or null. Moderators always may. */
function postRefusal(rules: RoomRules | null, visitor: Visitor, moderator: boolean): string | null {
  if (!rules || moderator) return null;
  switch (rules.post) {
    case 'anyone':
      return null;
    case 'users':
      return visitor.userId === null ? 'Log in to post in this room' : null;
    case 'members':
      return isMember(rules, visitor) ? null : 'Only members may post in this room';
    case 'moderators':
      return 'Only moderators may post in this room';
  }
}

/**
 * May `visitor` join the room, and with what rights? The refusals are the handshake's HTTP answers:
 * 404 for an undeclared room when undeclared rooms are closed, 401 for an anonymous visitor where
 * logging in would help, 403 for a ban or for a user who is not a member. Moderators always get in.
 */
export function decideJoin(
  policy: RoomPolicy,
  visitor: Visitor,
  undeclared: UndeclaredRooms,
  now: number,
): JoinDecision {
  const rules = policy.rules;
  if (!rules && undeclared === 'closed')
    return { ok: false, status: 404, message: `There is no room named ${policy.room}` };
  const moderator = isModerator(policy, visitor);
  if (!moderator && visitor.userId !== null) {
    const ban = policy.bans.get(visitor.userId);
    if (isActive(ban, now))
      return {
        ok: false,
        status: 403,
        message: withReason(`You are banned from this room${untilText(ban.until)}`, ban.reason),
      };
  }
  if (rules && !moderator && rules.join !== 'anyone') {
    if (visitor.userId === null)
      return {
        ok: false,
        status: 401,
        message: rules.join === 'users' ? 'Log in to join this room' : 'This room is for its members: log in',
      };
    if (rules.join === 'members' && !isMember(rules, visitor))
      return { ok: false, status: 403, message: 'Only members may join this room' };
  }
  const mute = visitor.userId === null || moderator ? undefined : policy.mutes.get(visitor.userId);
  const muted = isActive(mute, now);
  return {
    ok: true,
    access: {
      postRefusal: postRefusal(rules, visitor, moderator),
      moderator,
      mutedUntil: muted ? (mute.until ?? Infinity) : 0,
      muteReason: muted ? mute.reason : '',
      topic: rules?.topic ?? '',
    },
  };
}

/** Whether a socket with this access is muted at `now`. */
export function isMuted(access: RoomAccess, now: number): boolean {
  return access.mutedUntil !== 0 && access.mutedUntil > now;
}

/** The `muted` refusal's text. */
export function mutedText(access: Pick<RoomAccess, 'mutedUntil' | 'muteReason'>): string {
  const until = Number.isFinite(access.mutedUntil) ? access.mutedUntil : null;
  return withReason(`You are muted in this room${untilText(until)}`, access.muteReason);
}
