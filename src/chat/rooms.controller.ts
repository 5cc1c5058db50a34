import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi';
import {
  BadRequestException,
  Controller,
  ForbiddenException,
  Get,
  NotFoundException,
  Param,
  Query,
  UnauthorizedException,
} from '@nestjs/common';
import { CurrentUser } from '../auth/current-user.decorator';
import type { User } from '../auth/user.entity';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { MESSAGE_ID_MAX, Optional, toInt } from '../common/validation';
import { ChatMessage, ROOM_PATTERN } from './chat.protocol';
import { HistoryService } from './history.service';
import { untilIso } from './moderation.protocol';
import { PresenceTracker } from './presence';
import { RoomPolicies } from './room-policies';
import { isMuted, JoinRule, mutedText, PostRule, RoomAccess, Visitor } from './room-rules';
import { TokenScope } from '../auth/tokens/scopes';

/** The caller as room rules see them. */
function visitorOf(user: User | null): Visitor {
  return {
    userId: user?.id ?? null,
    staff: !!user && (user.isStaff || user.isSuperuser),
    superuser: !!user?.isSuperuser,
    groups: null,
  };
}

/** Message ids are bigint columns, made and compared as JavaScript numbers: at most 2^53 - 1. */
const BEFORE_MESSAGE = `before must be a message id (an integer from 0 to ${MESSAGE_ID_MAX})`;

export class MessagesQuery {
  @ApiPropertyOptional({ type: Number })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: BEFORE_MESSAGE })
  @Min(0, { message: BEFORE_MESSAGE })
  @Max(MESSAGE_ID_MAX, { message: BEFORE_MESSAGE })
  before?: number;

  @ApiPropertyOptional({ type: Number })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer from 1 to 500' })
  @Min(1, { message: 'limit must be an integer from 1 to 500' })
  @Max(500, { message: 'limit must be an integer from 1 to 500' })
  limit?: number;
}

class RoomDoc {
  @ApiProperty() room!: string;
  @ApiProperty({ description: 'open sockets in the room (cluster-wide in cluster mode)' }) members!: number;
}

class ChatMessageDoc {
  @ApiProperty({ description: 'time-ordered id; use it for ?before= and the WebSocket ?since=' }) id!: number;
  @ApiProperty() room!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'user id, null for anonymous' }) user!:
    number | null;
  @ApiProperty() name!: string;
  @ApiProperty() text!: string;
  @ApiProperty({ format: 'date-time' }) ts!: string;
  @ApiPropertyOptional({
    enum: [true],
    description: 'posted under a bot name (publish API); absent otherwise',
  })
  bot?: true;
}

class RoomInfoDoc {
  @ApiProperty() room!: string;
  @ApiProperty({ description: 'staff gave the room rules' }) declared!: boolean;
  @ApiProperty({ enum: ['anyone', 'users', 'members'] }) join!: JoinRule;
  @ApiProperty({ enum: ['anyone', 'users', 'members', 'moderators'] }) post!: PostRule;
  @ApiProperty() topic!: string;
  @ApiProperty({ description: 'the caller moderates the room' }) moderator!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'why the caller may not post, or null' })
  readOnly!: string | null;
  @ApiProperty({
    type: Object,
    nullable: true,
    description: '{until, reason, message} while the caller is muted',
  })
  muted!: { until: string | null; reason: string; message: string } | null;
}

class MessagePageDoc {
  @ApiProperty({ type: [ChatMessageDoc], description: 'oldest first' }) messages!: ChatMessageDoc[];
  @ApiProperty({ description: 'older messages exist: ask again with before=<first id>' }) hasMore!: boolean;
}

@ApiTags('chat')
@TokenScope('chat:read')
@Controller('chat/rooms')
export class RoomsController {
  constructor(
    private readonly presence: PresenceTracker,
    private readonly history: HistoryService,
    private readonly policies: RoomPolicies,
  ) {}

  /**
   * Active rooms (at least one open socket) the caller may join, with their member counts, busiest
   * first. A room whose rules cannot be read now is left out.
   */
  @Get()
  @ApiOperation({ summary: 'Active rooms the caller may join, with their member counts, busiest first' })
  @ApiOkResponse({ type: [RoomDoc] })
  async rooms(@CurrentUser() user: User | null): Promise<{ room: string; members: number }[]> {
    const rooms = await this.presence.rooms();
    const visitor = visitorOf(user);
    const allowed = await Promise.all(
      rooms.map((r) =>
        this.policies.admit(r.room, visitor).then(
          ({ decision }) => decision.ok,
          () => false,
        ),
      ),
    );
    return rooms
      .filter((_, i) => allowed[i])
      .sort((a, b) => b.members - a.members || a.room.localeCompare(b.room));
  }

  @Get(':room')
  @ApiOperation({
    summary:
      'A room’s rules as they apply to the caller (401/403/404 as the WebSocket handshake would answer)',
  })
  @ApiOkResponse({ type: RoomInfoDoc })
  @ApiErrors(400, 401, 403, 404, 503)
  async room(@Param('room') room: string, @CurrentUser() user: User | null): Promise<RoomInfoDoc> {
    const access = await this.access(room, user);
    const rules = this.policies.cached(room)?.rules ?? null;
    return {
      room,
      declared: rules !== null,
      join: rules?.join ?? 'anyone',
      post: rules?.post ?? 'anyone',
      topic: access.topic,
      moderator: access.moderator,
      readOnly: access.postRefusal,
      muted: isMuted(access, Date.now())
        ? { until: untilIso(access.mutedUntil), reason: access.muteReason, message: mutedText(access) }
        : null,
    };
  }

  /** The caller's rights in `room`, or the handshake's refusal as an HTTP error. */
  private async access(room: string, user: User | null): Promise<RoomAccess> {
    if (!ROOM_PATTERN.test(room))
      throw new BadRequestException('Room name must be 1 to 100 letters, digits, _ or -');
    const { decision } = await this.policies.admit(room, visitorOf(user));
    if (decision.ok) return decision.access;
    if (decision.status === 401) throw new UnauthorizedException(decision.message);
    if (decision.status === 404) throw new NotFoundException(decision.message);
    throw new ForbiddenException(decision.message);
  }

  @Get(':room/messages')
  @ApiOperation({ summary: 'A page of a room’s history (before=<id>, limit ≤ 500)' })
  @ApiOkResponse({ type: MessagePageDoc })
  @ApiErrors(400, 401, 403, 404)
  async messages(
    @Param('room') room: string,
    @Query() query: MessagesQuery,
    @CurrentUser() user: User | null,
  ): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
    // Whoever may not join the room may not read it either.
    await this.access(room, user);
    return this.history.page(room, query.before, query.limit ?? 50);
  }
}
