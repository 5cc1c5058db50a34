import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import WebSocket from 'ws';
import { ChannelLayer } from './channel-layer';
import { ChatClient } from './chat-client';
import { ChatService } from './chat.service';
import { CLOSE, closeReason, encodeV1, ServerFrame } from './chat.protocol';
import { HistoryService } from './history.service';
import { mutedFrame, roomDetails } from './moderation.protocol';
import { RoomControl } from './room-control';
import { RoomPolicies } from './room-policies';
import { decideJoin, isActive, needsGroups, RoomPolicy, Visitor } from './room-rules';

/**
 * Makes every instance obey a rule change or a moderator's action (RoomControl events, from this
 * instance or another through the ChannelLayer): forgets the room's cached policy, closes the
 * sockets of a kicked or banned user (4010, 4011) or of visitors the new rules shut out (4012),
 * updates mutes and tells live.v1 sockets (`muted`, `unmuted`, `room`, `deleted`), and keeps a
 * deleted message from being written by this instance.
 */
@Injectable()
export class RoomEnforcer implements OnModuleInit {
  private readonly logger = new Logger('RoomRules');

  constructor(
    private readonly chat: ChatService,
    private readonly layer: ChannelLayer,
    private readonly policies: RoomPolicies,
    private readonly history: HistoryService,
  ) {}

  onModuleInit(): void {
    this.layer.setControlListener((event) => this.apply(event));
  }

  apply(event: RoomControl): void {
    switch (event.type) {
      case 'rules':
        this.policies.invalidate(event.room);
        void this.redecide(event.room);
        return;
      case 'sanction':
        this.policies.invalidate(event.room);
        this.sanction(event);
        return;
      case 'kick':
        this.chat.closeSockets(
          { userId: event.user, room: event.room },
          closeWith(CLOSE.kicked, event.reason),
        );
        return;
      case 'deleted':
        this.deleted(event.room, event.id);
        return;
      case 'resync':
        this.policies.clear();
        for (const { room } of this.chat.localRooms()) void this.redecide(room);
        return;
    }
  }

  private socketsOf(room: string, user: number): ChatClient[] {
    return this.chat.clientsIn(room).filter((c) => c.userId === user);
  }

  private sanction(event: Extract<RoomControl, { type: 'sanction' }>): void {
    if (event.kind === 'ban') {
      // ModerationService never bans a moderator of the room: all of the user's sockets there go.
      if (!event.lifted)
        this.chat.closeSockets(
          { userId: event.user, room: event.room },
          closeWith(CLOSE.banned, event.reason),
        );
      return;
    }
    for (const c of this.socketsOf(event.room, event.user)) {
      if (c.access.moderator) continue; // never sanctioned (ModerationService refuses it; a race at most)
      c.access = event.lifted
        ? { ...c.access, mutedUntil: 0, muteReason: '' }
        : { ...c.access, mutedUntil: event.until ?? Infinity, muteReason: event.reason };
      if (c.v1) send(c, event.lifted ? { type: 'unmuted', room: c.room } : mutedFrame(c.room, c.access));
    }
  }

  private deleted(room: string, id: number): void {
    this.history.discard(room, id);
    for (const c of this.chat.clientsIn(room)) {
      if (c.pending.length > 0) c.pending = c.pending.filter((m) => m.id !== id);
      if (c.v1) send(c, { type: 'deleted', room, id });
    }
  }

  /**
   * The rules changed (or this instance may have missed changes): decide every socket of the room
   * here again. One that may no longer join is closed; the others learn their new rights.
   */
  private async redecide(room: string): Promise<void> {
    if (this.chat.clientsIn(room).length === 0) return;
    let policy: RoomPolicy;
    try {
      policy = await this.policies.get(room);
    } catch (err) {
      // Its sockets keep the rights they had; the next join (or resync) reads the rules again.
      this.logger.warn({ event: 'room_rules_redecide_failed', room, error: (err as Error).message });
      return;
    }
    const groups = new Map<number, Promise<ReadonlySet<number> | null>>();
    const now = Date.now();
    for (const c of this.chat.clientsIn(room)) {
      let visitor: Visitor = c.visitor;
      if (needsGroups(policy, visitor)) {
        const user = visitor.userId as number;
        if (!groups.has(user))
          groups.set(
            user,
            this.policies.groupsOf(user).catch(() => null),
          );
        const known = await groups.get(user);
        if (known) visitor = { ...visitor, groups: known };
      }
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      const decision = decideJoin(policy, visitor, this.policies.undeclared, now);
      if (!decision.ok) {
        const ban = c.userId === null ? undefined : policy.bans.get(c.userId);
        if (isActive(ban, now)) close(c, CLOSE.banned, ban.reason);
        else close(c, CLOSE.rulesChanged, decision.message);
        continue;
      }
      const before = c.access;
      c.visitor = visitor;
      c.access = decision.access;
      if (!c.v1) continue;
      const details = roomDetails(decision.access);
      if (JSON.stringify(details) !== JSON.stringify(roomDetails(before)))
        send(c, { type: 'room', room, ...details });
      if (decision.access.mutedUntil !== before.mutedUntil)
        send(
          c,
          decision.access.mutedUntil === 0 ? { type: 'unmuted', room } : mutedFrame(room, decision.access),
        );
    }
  }
}

/** Moderation frames are rare: written as they come, not through the fan-out's coalescing. */
function send(client: ChatClient, frame: ServerFrame): void {
  if (client.ws.readyState === WebSocket.OPEN) client.ws.send(encodeV1(frame));
}

/** The code with its own reason, then what the moderator or the rules said (cut to fit a close frame). */
function closeWith(code: { code: number; reason: string }, detail: string): { code: number; reason: string } {
  return { code: code.code, reason: closeReason(detail ? `${code.reason}: ${detail}` : code.reason) };
}

function close(client: ChatClient, code: { code: number; reason: string }, detail: string): void {
  if (client.ws.readyState !== WebSocket.OPEN) return;
  const { reason } = closeWith(code, detail);
  client.ws.close(code.code, reason);
}
