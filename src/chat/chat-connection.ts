import { MetricsService } from '../metrics/metrics.service';
import { ChatClient, ChatJoin } from './chat-client';
import type { ChatLog } from './chat-log';
import type { ChatConfig } from './chat.config';
import {
  ChatMessage,
  CLOSE,
  encodeV1,
  parseClientFrame,
  refusedText,
  ServerFrame,
  welcomeText,
} from './chat.protocol';
import { FloodControl } from './flood-control';
import { JoinReplay } from './join-replay';
import { ModerationCommand, mutedFrame, roomDetails, untilIso } from './moderation.protocol';
import { PresenceAnnouncer } from './presence-announcer';
import { RoomHub } from './room-hub';
import { isMuted, mutedText } from './room-rules';

/** What a connection needs of the chat service: read per frame (a test may wrap `post`). */
export interface ChatPoster {
  /** Shutting down: what sockets send now is not accepted. */
  readonly stopping: boolean;
  post(room: string, userId: number | null, name: string, text: string): ChatMessage;
}

/** Carries out a moderator's command sent on a socket: answers with `moderated` or an error frame, never rejects. */
export interface SocketModeration {
  fromSocket(client: ChatClient, command: ModerationCommand): Promise<ServerFrame>;
}

/** The pieces every connection shares; built once by ChatService. */
export interface ConnectionContext {
  readonly chat: ChatPoster;
  readonly hub: RoomHub;
  readonly replay: JoinReplay;
  readonly presence: PresenceAnnouncer;
  readonly metrics: MetricsService;
  readonly config: Pick<ChatConfig, 'rate' | 'burst' | 'floodStrikes'>;
  readonly log: ChatLog;
  /** Moderation commands from live.v1 sockets (set by ModerationService; absent: refused). */
  moderation?: SocketModeration;
  /** The flood buckets' clock. */
  readonly now?: () => number;
}

/**
 * One accepted socket: greets it in its protocol, joins its room, and owns its events: frames in
 * (flood control, then the plain seed protocol or `live.v1` parsed into a message to post), pongs,
 * and the close that takes it out of its room.
 */
export class ChatConnection {
  private readonly flood: FloodControl;

  constructor(
    readonly client: ChatClient,
    private readonly context: ConnectionContext,
  ) {
    this.flood = new FloodControl(context.config, context.now);
  }

  /** Joins the room, greets, starts the join replay, listens, and announces the new member. */
  open(join: ChatJoin): void {
    const { client, context } = this;
    const ws = client.ws;
    if (join.access) client.access = join.access;
    if (join.visitor) client.visitor = join.visitor;
    if (join.mayModerate === false) client.mayModerate = false;
    context.hub.join(client);
    const welcome = welcomeText(client.name);
    ws.send(
      client.v1
        ? encodeV1({
            type: 'welcome',
            room: client.room,
            name: client.name,
            user: client.userId,
            text: welcome,
            ...roomDetails(client.access),
          })
        : welcome,
    );
    if (client.v1 && isMuted(client.access, Date.now()))
      context.hub.sendFrame(client, mutedFrame(client.room, client.access));
    context.replay.start(client, join);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.on('pong', () => (client.alive = true));
    ws.on('close', (code: number) => this.onClose(code));
    context.presence.joined(client);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    const { client, context } = this;
    // Shutting down: the socket was sent 1001; what it sends now is not accepted (nor stored).
    if (context.chat.stopping) return;
    if (isBinary) {
      client.ws.close(CLOSE.binary.code, CLOSE.binary.reason);
      return;
    }
    const verdict = this.flood.take();
    if (verdict !== 'ok') {
      if (verdict === 'close') {
        context.log.warn({ event: 'socket_flood_closed', room: client.room, name: client.name });
        client.ws.close(CLOSE.flood.code, CLOSE.flood.reason);
      } else if (client.v1) {
        context.hub.sendFrame(client, {
          type: 'error',
          code: 'rate_limited',
          message: `Slow down: at most ${context.config.rate} messages per second`,
        });
      }
      return;
    }
    let text = data.toString('utf8');
    if (client.v1) {
      const parsed = parseClientFrame(text);
      if (typeof parsed === 'string') {
        context.hub.sendFrame(client, { type: 'error', code: 'bad_request', message: parsed });
        return;
      }
      if ('command' in parsed) {
        this.moderate(parsed.command);
        return;
      }
      text = parsed.text;
    }
    // The plain seed protocol has no error frame: a refused text is just not relayed.
    const refused = refusedText(text);
    if (refused !== null) {
      if (client.v1) context.hub.sendFrame(client, { type: 'error', code: 'bad_request', message: refused });
      return;
    }
    // The room's rules and mutes, decided at join: two field reads unless this socket is restricted.
    const access = client.access;
    if (access.postRefusal !== null || access.mutedUntil !== 0) {
      const refusal = this.refusal();
      if (refusal) {
        if (client.v1) context.hub.sendFrame(client, refusal);
        return;
      }
    }
    context.metrics.chatMessagesReceived.inc();
    context.chat.post(client.room, client.userId, client.name, text);
  }

  /** Why this socket may not post now (the room's post rule, a mute), as a live.v1 error frame. */
  private refusal(): ServerFrame | null {
    const access = this.client.access;
    if (access.postRefusal !== null) return { type: 'error', code: 'forbidden', message: access.postRefusal };
    if (isMuted(access, Date.now()))
      return { type: 'error', code: 'muted', message: mutedText(access), until: untilIso(access.mutedUntil) };
    return null;
  }

  private moderate(command: ModerationCommand): void {
    const { client, context } = this;
    if (!client.access.moderator || !context.moderation) {
      context.hub.sendFrame(client, {
        type: 'error',
        code: 'forbidden',
        message: 'Only moderators of this room may do that',
      });
      return;
    }
    if (!client.mayModerate) {
      context.hub.sendFrame(client, {
        type: 'error',
        code: 'forbidden',
        message: 'This socket’s token lacks the "chat:moderate" scope',
      });
      return;
    }
    void context.moderation.fromSocket(client, command).then((frame) => context.hub.sendFrame(client, frame));
  }

  private onClose(code: number): void {
    const { client, context } = this;
    context.metrics.chatSocketsClosed.inc({ code: String(code), reason: closeReasonLabel(code) });
    if (context.hub.leave(client)) context.presence.left(client);
  }
}

/** The metrics label of a close code: why live (or the peer) closed the socket. */
export function closeReasonLabel(code: number): string {
  const byCode: Record<number, string> = {
    1000: 'normal',
    1001: 'going_away',
    1003: 'bad_frame_binary',
    1005: 'no_status',
    1006: 'abnormal',
    1007: 'bad_frame_utf8',
    1008: 'flood',
    1009: 'bad_frame_too_big',
    1013: 'slow_consumer',
    4001: 'session_ended',
    4002: 'session_unverified',
    [CLOSE.kicked.code]: 'kicked',
    [CLOSE.banned.code]: 'banned',
    [CLOSE.rulesChanged.code]: 'rules_changed',
  };
  return byCode[code] ?? 'other';
}
