import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { Group } from '../auth/group.entity';
import { displayName, User } from '../auth/user.entity';
import { ChannelLayer } from './channel-layer';
import { ChatError } from './chat.exception';
import { ChatRoomEntity, ChatRoomMemberEntity } from './chat-room.entity';
import { ModerationLogEntity } from './moderation-log.entity';
import { JoinRule, MAX_REASON_CHARS, PostRule } from './room-rules';

/** What staff set for a room (PUT /admin/chat/rooms/:room): users and groups by name. */
export interface RoomRulesInput {
  join: JoinRule;
  post: PostRule;
  topic?: string;
  /** Name of the auth_group whose members moderate the room. */
  moderatorGroup?: string;
  members?: { users?: string[]; groups?: string[] };
}

/** A declared room as the API shows it. */
export interface RoomRulesView {
  room: string;
  join: JoinRule;
  post: PostRule;
  topic: string;
  moderatorGroup: { id: number; name: string } | null;
  members: { users: { id: number; username: string }[]; groups: { id: number; name: string }[] };
  updatedAt: string;
  updatedBy: number | null;
}

/**
 * Staff's side of room rules: declare a room (who joins, who posts, topic, moderator group, listed
 * members), read them, remove them. Every change is logged and announced to every instance, whose
 * RoomEnforcer re-decides the room's open sockets.
 */
@Injectable()
export class RoomRulesService {
  constructor(
    @InjectRepository(ChatRoomEntity) private readonly rooms: Repository<ChatRoomEntity>,
    @InjectRepository(ChatRoomMemberEntity) private readonly members: Repository<ChatRoomMemberEntity>,
    @InjectRepository(User) private readonly users: Repository<User>,
    @InjectRepository(Group) private readonly groups: Repository<Group>,
    private readonly layer: ChannelLayer,
  ) {}

  async list(): Promise<RoomRulesView[]> {
    const rows = await this.rooms.find({ order: { room: 'ASC' } });
    return this.views(rows);
  }

  async get(room: string): Promise<RoomRulesView> {
    const row = await this.rooms.findOneBy({ room });
    if (!row) throw new ChatError('not_found', `Room ${room} has no rules`);
    return (await this.views([row]))[0];
  }

  /** Declares `room` or replaces its rules entirely (what is left out is cleared). */
  async put(room: string, input: RoomRulesInput, actor: User): Promise<RoomRulesView> {
    const usernames = [...new Set(input.members?.users ?? [])];
    const groupNames = [
      ...new Set([...(input.members?.groups ?? []), ...(input.moderatorGroup ? [input.moderatorGroup] : [])]),
    ];
    const [users, groups] = await Promise.all([
      usernames.length ? this.users.findBy({ username: In(usernames) }) : [],
      groupNames.length ? this.groups.findBy({ name: In(groupNames) }) : [],
    ]);
    const unknownUsers = usernames.filter((n) => !users.some((u) => u.username === n));
    const unknownGroups = groupNames.filter((n) => !groups.some((g) => g.name === n));
    const problems = [
      ...(unknownUsers.length ? [`Unknown users: ${unknownUsers.join(', ')}`] : []),
      ...(unknownGroups.length ? [`Unknown groups: ${unknownGroups.join(', ')}`] : []),
    ];
    if (problems.length) throw new ChatError('invalid', problems.join('; '));
    const groupId = (name: string) => (groups.find((g) => g.name === name) as Group).id;
    const memberGroups = [...new Set(input.members?.groups ?? [])].map(groupId);
    const now = new Date();
    await this.rooms.manager.transaction(async (m) => {
      // One statement (INSERT … ON CONFLICT UPDATE): two staff declaring a room at once both succeed.
      await m.upsert(
        ChatRoomEntity,
        {
          room,
          join: input.join,
          post: input.post,
          topic: input.topic ?? '',
          moderatorGroupId: input.moderatorGroup ? groupId(input.moderatorGroup) : null,
          updatedAt: now,
          updatedById: actor.id,
        },
        ['room'],
      );
      await m.delete(ChatRoomMemberEntity, { room });
      const rows = [
        ...users.map((u) => ({ room, userId: u.id, groupId: null })),
        ...memberGroups.map((g) => ({ room, userId: null, groupId: g })),
      ];
      for (let i = 0; i < rows.length; i += 200) await m.insert(ChatRoomMemberEntity, rows.slice(i, i + 200));
      await m.insert(ModerationLogEntity, this.logRow(room, 'rules_set', actor, now, summary(input)));
    });
    this.layer.controlSend({ type: 'rules', room });
    return this.get(room);
  }

  /** Back to an undeclared room (open to everyone, or 404 with CHAT_UNDECLARED_ROOMS=closed). */
  async remove(room: string, actor: User): Promise<void> {
    const now = new Date();
    await this.rooms.manager.transaction(async (m) => {
      const found = await m.delete(ChatRoomEntity, { room });
      if (!found.affected) throw new ChatError('not_found', `Room ${room} has no rules`);
      await m.delete(ChatRoomMemberEntity, { room }); // SQLite may run without foreign keys
      await m.insert(ModerationLogEntity, this.logRow(room, 'rules_removed', actor, now, ''));
    });
    this.layer.controlSend({ type: 'rules', room });
  }

  private logRow(room: string, action: 'rules_set' | 'rules_removed', actor: User, at: Date, reason: string) {
    return {
      createdAt: at,
      room,
      action,
      actorId: actor.id,
      actorName: displayName(actor),
      targetUserId: null,
      targetName: null,
      messageId: null,
      messageUserId: null,
      messageName: null,
      messageText: null,
      messageAt: null,
      reason,
      expiresAt: null,
      via: 'http' as const,
    };
  }

  private async views(rows: ChatRoomEntity[]): Promise<RoomRulesView[]> {
    if (rows.length === 0) return [];
    const members = await this.members.findBy({ room: In(rows.map((r) => r.room)) });
    const userIds = [...new Set(members.flatMap((m) => (m.userId === null ? [] : [m.userId])))];
    const groupIds = [
      ...new Set([
        ...members.flatMap((m) => (m.groupId === null ? [] : [m.groupId])),
        ...rows.flatMap((r) => (r.moderatorGroupId === null ? [] : [r.moderatorGroupId])),
      ]),
    ];
    const [users, groups] = await Promise.all([
      userIds.length ? this.users.findBy({ id: In(userIds) }) : [],
      groupIds.length ? this.groups.findBy({ id: In(groupIds) }) : [],
    ]);
    const userById = new Map(users.map((u) => [u.id, { id: u.id, username: u.username }]));
    const groupById = new Map(groups.map((g) => [g.id, { id: g.id, name: g.name }]));
    return rows.map((r) => {
      const mine = members.filter((m) => m.room === r.room);
      return {
        room: r.room,
        join: r.join,
        post: r.post,
        topic: r.topic,
        moderatorGroup: r.moderatorGroupId === null ? null : (groupById.get(r.moderatorGroupId) ?? null),
        members: {
          users: unique(mine.map((m) => (m.userId === null ? undefined : userById.get(m.userId)))),
          groups: unique(mine.map((m) => (m.groupId === null ? undefined : groupById.get(m.groupId)))),
        },
        updatedAt: r.updatedAt.toISOString(),
        updatedBy: r.updatedById,
      };
    });
  }
}

/** The entries found, each once. */
function unique<T>(items: (T | undefined)[]): T[] {
  return [...new Set(items.filter((i): i is T => i !== undefined))];
}

/** The log's record of what a rule change set. */
function summary(input: RoomRulesInput): string {
  const parts = [`join=${input.join}`, `post=${input.post}`];
  if (input.moderatorGroup) parts.push(`moderators=${input.moderatorGroup}`);
  const users = input.members?.users?.length ?? 0;
  const groups = input.members?.groups?.length ?? 0;
  if (users || groups) parts.push(`members=${users} users, ${groups} groups`);
  if (input.topic) parts.push(`topic=${input.topic}`);
  const text = parts.join(' ');
  return text.length > MAX_REASON_CHARS ? text.slice(0, MAX_REASON_CHARS - 1) + '…' : text;
}
