import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { UserGroup } from '../auth/group.entity';
import { withDeadline } from '../common/deadline';
import { ChatConfig } from './chat.config';
import { rulesUnavailable, RULES_DEADLINE } from './chat.exception';
import { ChatRoomEntity, ChatRoomMemberEntity } from './chat-room.entity';
import { ChatSanctionEntity } from './chat-sanction.entity';
import {
  decideJoin,
  JoinDecision,
  needsGroups,
  RoomPolicy,
  Sanction,
  UndeclaredRooms,
  Visitor,
} from './room-rules';

/**
 * A cached policy older than this is served once more while it is read again in the background: a
 * safety net for a change whose notice this instance missed (Redis down meanwhile: see resync).
 */
const POLICY_TTL_MS = 60_000;
/** Rooms whose policy is kept; the oldest read is forgotten first. */
const MAX_CACHED_ROOMS = 10_000;

/** A join's verdict, with the visitor as decided (their groups, when the rules needed them). */
export interface Admission {
  decision: JoinDecision;
  visitor: Visitor;
}

/**
 * Each room's rules and active sanctions, read once per room and kept until a change is announced
 * (RoomEnforcer invalidates on every rules, sanction or resync event), so a join costs a map lookup
 * and a message nothing. Reads are bounded by CHAT_HISTORY_JOIN_TIMEOUT_MS: a silent database
 * refuses a join with 503 instead of hanging it; a room read before is still served from the cache.
 */
@Injectable()
export class RoomPolicies {
  private readonly logger = new Logger('RoomRules');
  private readonly cache = new Map<string, { policy: RoomPolicy; readAt: number }>();
  private readonly reading = new Map<string, Promise<RoomPolicy>>();

  constructor(
    @InjectRepository(ChatRoomEntity) private readonly rooms: Repository<ChatRoomEntity>,
    @InjectRepository(ChatRoomMemberEntity) private readonly members: Repository<ChatRoomMemberEntity>,
    @InjectRepository(ChatSanctionEntity) private readonly sanctions: Repository<ChatSanctionEntity>,
    @InjectRepository(UserGroup) private readonly userGroups: Repository<UserGroup>,
    private readonly config: ChatConfig,
  ) {}

  get undeclared(): UndeclaredRooms {
    return this.config.undeclaredRooms;
  }

  /** The room's policy. Throws ChatError 503 when it is not cached and cannot be read in time. */
  async get(room: string): Promise<RoomPolicy> {
    const hit = this.cache.get(room);
    if (!hit) return this.read(room);
    if (Date.now() - hit.readAt > POLICY_TTL_MS)
      this.read(room).catch((err: Error) =>
        this.logger.warn({ event: 'room_rules_refresh_failed', room, error: err.message }),
      );
    return hit.policy;
  }

  /** The cached policy, if any (never reads). */
  cached(room: string): RoomPolicy | undefined {
    return this.cache.get(room)?.policy;
  }

  /** Forget what is known of `room`: the next join reads it again. */
  invalidate(room: string): void {
    this.cache.delete(room);
    this.reading.delete(room);
  }

  clear(): void {
    this.cache.clear();
    this.reading.clear();
  }

  /** May `visitor` join `room`? Reads the user's groups only when the rules name groups. */
  async admit(room: string, visitor: Visitor): Promise<Admission> {
    const policy = await this.get(room);
    if (needsGroups(policy, visitor))
      visitor = { ...visitor, groups: await this.groupsOf(visitor.userId as number) };
    return { decision: decideJoin(policy, visitor, this.undeclared, Date.now()), visitor };
  }

  /** A user's auth_group ids (bounded like every rules read). */
  async groupsOf(userId: number): Promise<ReadonlySet<number>> {
    const rows = await this.bounded(this.userGroups.find({ where: { userId }, select: { groupId: true } }));
    return new Set(rows.map((r) => r.groupId));
  }

  /** Concurrent reads of one room share one; a read overtaken by invalidate() is not cached. */
  private read(room: string): Promise<RoomPolicy> {
    const current = this.reading.get(room);
    if (current) return current;
    const started = Date.now();
    const reading: Promise<RoomPolicy> = this.bounded(this.load(room, started))
      .then((policy) => {
        if (this.reading.get(room) === reading) {
          this.cache.delete(room);
          this.cache.set(room, { policy, readAt: started });
          if (this.cache.size > MAX_CACHED_ROOMS) this.cache.delete(this.cache.keys().next().value as string);
        }
        return policy;
      })
      .finally(() => {
        if (this.reading.get(room) === reading) this.reading.delete(room);
      });
    this.reading.set(room, reading);
    return reading;
  }

  private async bounded<T>(work: Promise<T>): Promise<T> {
    try {
      return await withDeadline(work, this.config.historyJoinTimeoutMs, RULES_DEADLINE);
    } catch (err) {
      throw rulesUnavailable(err) ?? err;
    }
  }

  private async load(room: string, now: number): Promise<RoomPolicy> {
    const [row, members, sanctions] = await Promise.all([
      this.rooms.findOneBy({ room }),
      this.members.findBy({ room }),
      this.sanctions.find({ where: { room, liftedAt: IsNull() }, order: { id: 'ASC' } }),
    ]);
    const bans = new Map<number, Sanction>();
    const mutes = new Map<number, Sanction>();
    for (const s of sanctions) {
      const until = s.expiresAt ? s.expiresAt.getTime() : null;
      if (until !== null && until <= now) continue;
      (s.kind === 'ban' ? bans : mutes).set(s.userId, { until, reason: s.reason });
    }
    const rules = row && {
      join: row.join,
      post: row.post,
      topic: row.topic,
      moderatorGroup: row.moderatorGroupId,
      memberUsers: new Set(members.flatMap((m) => (m.userId === null ? [] : [m.userId]))),
      memberGroups: new Set(members.flatMap((m) => (m.groupId === null ? [] : [m.groupId]))),
    };
    return { room, rules, bans, mutes };
  }
}
