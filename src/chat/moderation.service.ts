import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, IsNull, LessThan, MoreThan, Repository } from 'typeorm';
import { displayName, User } from '../auth/user.entity';
import { DomainException } from '../common/domain.exception';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';
import { ChannelLayer } from './channel-layer';
import { ChatClient } from './chat-client';
import { SocketModeration } from './chat-connection';
import { ChatError } from './chat.exception';
import { ChatMessageEntity } from './chat-message.entity';
import { ChatMessage, ServerFrame } from './chat.protocol';
import { ChatSanctionEntity, SanctionKind } from './chat-sanction.entity';
import { ChatService } from './chat.service';
import { HistoryService } from './history.service';
import { ModerationAction, ModerationLogEntity } from './moderation-log.entity';
import { ModerationCommand } from './moderation.protocol';
import { RoomPolicies } from './room-policies';
import { isModerator } from './room-rules';

/** How long a deletion waits for other instances to write what they hold unsaved (see flushBarrier). */
const DELETE_BARRIER_MS = 500;

/** Who acts, and through which door. Moderators are staff, superusers or the room's moderator group. */
export interface Actor {
  userId: number;
  name: string;
  staff: boolean;
  superuser: boolean;
  via: 'http' | 'ws';
}

/** A moderation log entry as the API shows it. */
export interface ModerationLogView {
  id: number;
  at: string;
  room: string;
  action: ModerationAction;
  actor: { id: number | null; name: string };
  target: { id: number | null; name: string | null } | null;
  message: {
    id: number;
    user: number | null;
    name: string | null;
    text: string | null;
    ts: string | null;
  } | null;
  reason: string;
  until: string | null;
  via: 'http' | 'ws';
}

/** An active mute or ban. */
export interface SanctionView {
  id: number;
  kind: SanctionKind;
  user: { id: number; username: string | null; name: string | null };
  reason: string;
  since: string;
  until: string | null;
}

export function toLogView(e: ModerationLogEntity): ModerationLogView {
  return {
    id: e.id,
    at: e.createdAt.toISOString(),
    room: e.room,
    action: e.action,
    actor: { id: e.actorId, name: e.actorName },
    target:
      e.targetUserId === null && e.targetName === null ? null : { id: e.targetUserId, name: e.targetName },
    message:
      e.messageId === null
        ? null
        : {
            id: e.messageId,
            user: e.messageUserId,
            name: e.messageName,
            text: e.messageText,
            ts: e.messageAt?.toISOString() ?? null,
          },
    reason: e.reason,
    until: e.expiresAt?.toISOString() ?? null,
    via: e.via,
  };
}

const PAST: Record<ModerationCommand['action'], string> = {
  delete: 'deleted',
  mute: 'muted',
  unmute: 'unmuted',
  kick: 'kicked',
  ban: 'banned',
  unban: 'unbanned',
};

/**
 * The moderators' actions, by REST or from a live.v1 socket: delete a message, mute and unmute,
 * kick, ban and unban. Each is written (sanction, deletion and log row in one transaction), then
 * announced to every instance (RoomEnforcer carries it out on each).
 */
@Injectable()
export class ModerationService implements OnModuleInit, SocketModeration {
  private readonly logger = new Logger('Moderation');

  constructor(
    @InjectRepository(ModerationLogEntity) private readonly log: Repository<ModerationLogEntity>,
    @InjectRepository(ChatSanctionEntity) private readonly sanctions: Repository<ChatSanctionEntity>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly policies: RoomPolicies,
    private readonly history: HistoryService,
    private readonly layer: ChannelLayer,
    private readonly chat: ChatService,
  ) {}

  onModuleInit(): void {
    this.chat.useModeration(this);
  }

  /** The logged-in user as an actor in `room`, or 403 when they do not moderate it. */
  async actorFor(user: User, room: string): Promise<Actor> {
    const staff = user.isStaff || user.isSuperuser;
    if (!staff) {
      const policy = await this.policies.get(room);
      const group = policy.rules?.moderatorGroup ?? null;
      const groups = group === null ? null : await this.policies.groupsOf(user.id);
      if (!isModerator(policy, { userId: user.id, staff, superuser: false, groups }))
        throw new ChatError('forbidden', 'Only moderators of this room may do that');
    }
    return { userId: user.id, name: displayName(user), staff, superuser: user.isSuperuser, via: 'http' };
  }

  /**
   * A command from a moderator's socket (ChatConnection checked the `moderator` it was given at
   * join): who sends it is read again, so staff status or a moderator group lost since the socket
   * opened no longer counts. The answer frame, never a rejection.
   */
  async fromSocket(client: ChatClient, command: ModerationCommand): Promise<ServerFrame> {
    try {
      const user = client.userId === null ? null : await this.users.findOneBy({ id: client.userId });
      if (!user?.isActive) throw new ChatError('forbidden', 'Only moderators of this room may do that');
      const actor: Actor = { ...(await this.actorFor(user, client.room)), via: 'ws' };
      const entry = await this.perform(actor, client.room, command);
      return {
        type: 'moderated',
        room: client.room,
        action: command.action,
        ...(entry.target?.id != null ? { user: entry.target.id } : {}),
        ...(entry.message ? { id: entry.message.id } : {}),
        ...(command.action === 'mute' || command.action === 'ban' ? { until: entry.until } : {}),
      };
    } catch (err) {
      if (!(err instanceof DomainException))
        this.logger.error({ event: 'moderation_failed', room: client.room, error: (err as Error).message });
      return { type: 'error', code: errorCode(err), message: errorMessage(err) };
    }
  }

  /** Carries out one command of `actor` (a moderator of `room`); returns its log entry. */
  async perform(actor: Actor, room: string, command: ModerationCommand): Promise<ModerationLogView> {
    try {
      if (command.action === 'delete')
        return await this.deleteMessage(actor, room, command.id, command.reason);
      const target = await this.target(actor, room, command.action, command.user);
      switch (command.action) {
        case 'kick': {
          const entry = await this.record(this.log.manager, actor, room, 'kick', target, command.reason);
          this.layer.controlSend({ type: 'kick', room, user: target.id, reason: command.reason });
          return entry;
        }
        case 'mute':
        case 'ban':
          return await this.sanction(actor, room, command.action, target, command.duration, command.reason);
        case 'unmute':
        case 'unban':
          return await this.lift(actor, room, command.action, target, command.reason);
      }
    } catch (err) {
      if (err instanceof DomainException || !isDatabaseUnavailable(err)) throw err;
      throw new ChatError('unavailable', `Database unavailable: ${describeDatabaseError(err)}`);
    }
  }

  /** Newest first; `room` null: every room. */
  async entries(
    room: string | null,
    before: number | undefined,
    limit: number,
  ): Promise<ModerationLogView[]> {
    const rows = await this.log.find({
      where: {
        ...(room === null ? {} : { room }),
        ...(before === undefined ? {} : { id: LessThan(before) }),
      },
      order: { id: 'DESC' },
      take: limit,
    });
    return rows.map(toLogView);
  }

  /** The room's mutes and bans in force now. */
  async active(room: string): Promise<SanctionView[]> {
    const now = new Date();
    const rows = await this.sanctions.find({
      where: [
        { room, liftedAt: IsNull(), expiresAt: IsNull() },
        { room, liftedAt: IsNull(), expiresAt: MoreThan(now) },
      ],
      order: { id: 'ASC' },
    });
    const ids = [...new Set(rows.map((r) => r.userId))];
    const users = ids.length ? await this.users.findBy({ id: In(ids) }) : [];
    const byId = new Map(users.map((u) => [u.id, u]));
    return rows.map((r) => {
      const u = byId.get(r.userId);
      return {
        id: r.id,
        kind: r.kind,
        user: { id: r.userId, username: u?.username ?? null, name: u ? displayName(u) : null },
        reason: r.reason,
        since: r.createdAt.toISOString(),
        until: r.expiresAt?.toISOString() ?? null,
      };
    });
  }

  /**
   * The user a command targets: they exist, are not the actor, and may be sanctioned by them:
   * superusers never, staff only by a superuser, the room's moderators only by staff. Lifting a
   * sanction needs only that the user exists.
   */
  private async target(actor: Actor, room: string, action: string, id: number): Promise<User> {
    const user = await this.users.findOneBy({ id });
    if (!user) throw new ChatError('not_found', `No user with id ${id}`);
    if (action === 'unmute' || action === 'unban') return user;
    if (user.id === actor.userId) throw new ChatError('invalid', `You cannot ${action} yourself`);
    if (user.isSuperuser) throw new ChatError('forbidden', `Superusers cannot be ${PAST[action as 'mute']}`);
    if (user.isStaff && !actor.superuser)
      throw new ChatError('forbidden', `Only a superuser may ${action} staff`);
    if (!user.isStaff && !actor.staff) {
      const policy = await this.policies.get(room);
      if (policy.rules?.moderatorGroup != null) {
        const groups = await this.policies.groupsOf(user.id);
        if (isModerator(policy, { userId: user.id, staff: false, superuser: false, groups }))
          throw new ChatError('forbidden', `Moderators cannot ${action} each other; ask staff`);
      }
    }
    return user;
  }

  private async sanction(
    actor: Actor,
    room: string,
    kind: SanctionKind,
    target: User,
    duration: number | null,
    reason: string,
  ): Promise<ModerationLogView> {
    const now = new Date();
    const until = duration === null ? null : new Date(now.getTime() + duration * 1000);
    const entry = await this.log.manager.transaction(async (m) => {
      // One sanction of a kind at a time: a new mute replaces the one in force.
      await m.update(
        ChatSanctionEntity,
        { room, userId: target.id, kind, liftedAt: IsNull() },
        { liftedAt: now, liftedById: actor.userId },
      );
      await m.insert(ChatSanctionEntity, {
        room,
        userId: target.id,
        kind,
        reason,
        createdAt: now,
        createdById: actor.userId,
        expiresAt: until,
        liftedAt: null,
        liftedById: null,
      });
      return this.record(m, actor, room, kind, target, reason, { expiresAt: until, createdAt: now });
    });
    this.layer.controlSend({
      type: 'sanction',
      room,
      user: target.id,
      kind,
      lifted: false,
      until: until?.getTime() ?? null,
      reason,
    });
    return entry;
  }

  private async lift(
    actor: Actor,
    room: string,
    action: 'unmute' | 'unban',
    target: User,
    reason: string,
  ): Promise<ModerationLogView> {
    const kind: SanctionKind = action === 'unmute' ? 'mute' : 'ban';
    const now = new Date();
    const entry = await this.log.manager.transaction(async (m) => {
      const active = await m.find(ChatSanctionEntity, {
        where: [
          { room, userId: target.id, kind, liftedAt: IsNull(), expiresAt: IsNull() },
          { room, userId: target.id, kind, liftedAt: IsNull(), expiresAt: MoreThan(now) },
        ],
      });
      if (active.length === 0)
        throw new ChatError('not_found', `${displayName(target)} is not ${PAST[kind]} in this room`);
      await m.update(
        ChatSanctionEntity,
        { id: In(active.map((s) => s.id)) },
        { liftedAt: now, liftedById: actor.userId },
      );
      return this.record(m, actor, room, action, target, reason, { createdAt: now });
    });
    this.layer.controlSend({
      type: 'sanction',
      room,
      user: target.id,
      kind,
      lifted: true,
      until: null,
      reason,
    });
    return entry;
  }

  /**
   * Removes a message from the room's history for everyone, keeping a copy in the log. What other
   * instances still hold unsaved is written first (a flush barrier, as for a `since` join), so the
   * message is found and its row is there to delete; the announcement then keeps every instance
   * from writing it later (one whose write was late, say).
   */
  private async deleteMessage(
    actor: Actor,
    room: string,
    id: number,
    reason: string,
  ): Promise<ModerationLogView> {
    await this.layer.flushBarrier(room, DELETE_BARRIER_MS);
    const message = await this.history.find(room, id);
    if (!message) throw new ChatError('not_found', `No message ${id} in this room`);
    this.history.discard(room, id);
    const entry = await this.log.manager.transaction(async (m) => {
      await m.delete(ChatMessageEntity, { room, id });
      return this.record(m, actor, room, 'delete', null, reason, { message });
    });
    this.layer.controlSend({ type: 'deleted', room, id });
    this.logger.log({ event: 'chat_message_deleted', room, id, by: actor.userId });
    return entry;
  }

  private async record(
    m: EntityManager,
    actor: Actor,
    room: string,
    action: ModerationAction,
    target: User | null,
    reason: string,
    extra: { message?: ChatMessage; expiresAt?: Date | null; createdAt?: Date } = {},
  ): Promise<ModerationLogView> {
    const message = extra.message;
    const row = m.create(ModerationLogEntity, {
      createdAt: extra.createdAt ?? new Date(),
      room,
      action,
      actorId: actor.userId,
      actorName: actor.name,
      targetUserId: target?.id ?? null,
      targetName: target ? displayName(target) : (message?.name ?? null),
      messageId: message?.id ?? null,
      messageUserId: message?.user ?? null,
      messageName: message?.name ?? null,
      messageText: message?.text ?? null,
      messageAt: message ? new Date(message.ts) : null,
      reason,
      expiresAt: extra.expiresAt ?? null,
      via: actor.via,
    });
    const saved = await m.save(row);
    if (action !== 'delete')
      this.logger.log({ event: 'chat_moderation', action, room, target: target?.id, by: actor.userId });
    return toLogView(saved);
  }
}

/** The live.v1 error code of a refused or failed command. */
function errorCode(err: unknown): string {
  if (err instanceof DomainException)
    return (
      { invalid: 'bad_request', forbidden: 'forbidden', not_found: 'not_found', conflict: 'conflict' }[
        err.kind as string
      ] ?? 'unavailable'
    );
  return 'unavailable';
}

function errorMessage(err: unknown): string {
  if (err instanceof DomainException) return err.detail;
  if (isDatabaseUnavailable(err)) return `Database unavailable: ${describeDatabaseError(err)}`;
  return 'The action could not be carried out';
}
