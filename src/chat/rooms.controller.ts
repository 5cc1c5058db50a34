import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi';
import { BadRequestException, Controller, Get, Param, Query } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { MESSAGE_ID_MAX, Optional, toInt } from '../common/validation';
import { ChatMessage, ROOM_PATTERN } from './chat.protocol';
import { HistoryService } from './history.service';
import { PresenceTracker } from './presence';

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
}

class MessagePageDoc {
  @ApiProperty({ type: [ChatMessageDoc], description: 'oldest first' }) messages!: ChatMessageDoc[];
  @ApiProperty({ description: 'older messages exist: ask again with before=<first id>' }) hasMore!: boolean;
}

@ApiTags('chat')
@Controller('chat/rooms')
export class RoomsController {
  constructor(
    private readonly presence: PresenceTracker,
    private readonly history: HistoryService,
  ) {}

  /** Active rooms (at least one open socket) with their member counts, busiest first. */
  @Get()
  @ApiOperation({ summary: 'Active rooms with their member counts, busiest first' })
  @ApiOkResponse({ type: [RoomDoc] })
  async rooms(): Promise<{ room: string; members: number }[]> {
    const rooms = await this.presence.rooms();
    return rooms.sort((a, b) => b.members - a.members || a.room.localeCompare(b.room));
  }

  @Get(':room/messages')
  @ApiOperation({ summary: 'A page of a room’s history (before=<id>, limit ≤ 500)' })
  @ApiOkResponse({ type: MessagePageDoc })
  @ApiErrors(400)
  async messages(
    @Param('room') room: string,
    @Query() query: MessagesQuery,
  ): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
    if (!ROOM_PATTERN.test(room))
      throw new BadRequestException('Room name must be 1 to 100 letters, digits, _ or -');
    return this.history.page(room, query.before, query.limit ?? 50);
  }
}
