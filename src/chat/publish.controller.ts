import { Body, Controller, Param, Post, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator';
import { AuthenticatedGuard } from '../auth/guards';
import { TokenScope } from '../auth/tokens/scopes';
import type { User } from '../auth/user.entity';
import { ApiErrors } from '../common/openapi';
import { BroadcastDto, BroadcastResultDoc, PublishedMessageDoc, PublishMessageDto } from './publish.dto';
import { PublishedMessage, PublishService } from './publish.service';
import { RoomNamePipe } from './room-name.pipe';
import { SessionPublishRateGuard } from './session-publish-rate.guard';

const roomPipe = new RoomNamePipe();

const RULES =
  'The room’s rules apply as to a socket of the caller: who may join and post, bans, mutes (403 ' +
  '`You are muted in this room…`), undeclared rooms under CHAT_UNDECLARED_ROOMS=closed (404); the text ' +
  'is limited like a socket’s (CHAT_MAX_MESSAGE_BYTES, no NUL). 503 while the server shuts down.';

/**
 * The publish API: programs (a Django view, a deploy script, a bot) post into rooms with an API
 * token carrying `chat:publish`, or with a session and its CSRF token.
 */
@ApiTags('chat: publish')
@ApiErrors(400, 401, 403, 429, 503)
@Controller('chat')
@UseGuards(AuthenticatedGuard, SessionPublishRateGuard)
@TokenScope('chat:publish')
export class PublishController {
  constructor(private readonly publisher: PublishService) {}

  @Post('rooms/:room/messages')
  @ApiOperation({
    summary: 'Posts a message into a room, as a socket of the caller would (or as a named bot)',
    description: RULES,
  })
  @ApiCreatedResponse({ type: PublishedMessageDoc })
  @ApiErrors(404)
  publish(
    @Param('room', roomPipe) room: string,
    @Body() body: PublishMessageDto,
    @CurrentUser() user: User,
  ): Promise<PublishedMessage> {
    return this.publisher.publish(user, room, body.text, body.name);
  }

  @Post('broadcast')
  @ApiOperation({
    summary: 'Posts one message into several rooms (all checked first: one refusal refuses all)',
    description: `${RULES} A refusal names its room.`,
  })
  @ApiCreatedResponse({ type: BroadcastResultDoc })
  @ApiErrors(404)
  async broadcast(
    @Body() body: BroadcastDto,
    @CurrentUser() user: User,
  ): Promise<{ messages: PublishedMessage[] }> {
    return { messages: await this.publisher.broadcast(user, body.rooms, body.text, body.name) };
  }
}
