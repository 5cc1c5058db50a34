import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator';
import { AuthenticatedGuard } from '../auth/guards';
import type { User } from '../auth/user.entity';
import { ApiErrors } from '../common/openapi';
import { DeleteMessageDto, LogQuery, SanctionDto, TargetDto } from './moderation.dto';
import { ModerationLogView, ModerationService, SanctionView } from './moderation.service';
import { ModerationCommand } from './moderation.protocol';
import { RoomNamePipe } from './room-name.pipe';
import { TokenScope } from '../auth/tokens/scopes';

const roomPipe = new RoomNamePipe();

/**
 * A room's moderators (staff, superusers, members of its moderator group) act on it: the same
 * commands a moderator's live.v1 socket may send. 401 anonymous, 403 for anyone else.
 */
@ApiTags('chat: moderation')
@ApiErrors(400, 401, 403, 503)
@TokenScope('chat:moderate')
@Controller('chat/rooms/:room/moderation')
@UseGuards(AuthenticatedGuard)
export class ModerationController {
  constructor(private readonly moderation: ModerationService) {}

  private async run(user: User, room: string, command: ModerationCommand): Promise<ModerationLogView> {
    const actor = await this.moderation.actorFor(user, room);
    return this.moderation.perform(actor, room, command);
  }

  @Post('delete')
  @HttpCode(200)
  @ApiOperation({ summary: 'Deletes a message from the history, for everyone (a copy stays in the log)' })
  @ApiErrors(404)
  delete(@Param('room', roomPipe) room: string, @Body() body: DeleteMessageDto, @CurrentUser() user: User) {
    return this.run(user, room, { action: 'delete', id: body.id, reason: body.reason ?? '' });
  }

  @Post('mute')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mutes a user in the room (duration in seconds; none: until unmuted)' })
  @ApiErrors(404)
  mute(@Param('room', roomPipe) room: string, @Body() body: SanctionDto, @CurrentUser() user: User) {
    return this.run(user, room, {
      action: 'mute',
      user: body.user,
      duration: body.duration ?? null,
      reason: body.reason ?? '',
    });
  }

  @Post('unmute')
  @HttpCode(200)
  @ApiOperation({ summary: 'Lifts a mute (404 when the user is not muted here)' })
  @ApiErrors(404)
  unmute(@Param('room', roomPipe) room: string, @Body() body: TargetDto, @CurrentUser() user: User) {
    return this.run(user, room, { action: 'unmute', user: body.user, reason: body.reason ?? '' });
  }

  @Post('kick')
  @HttpCode(200)
  @ApiOperation({ summary: 'Closes the user’s sockets in the room (4010); they may rejoin' })
  @ApiErrors(404)
  kick(@Param('room', roomPipe) room: string, @Body() body: TargetDto, @CurrentUser() user: User) {
    return this.run(user, room, { action: 'kick', user: body.user, reason: body.reason ?? '' });
  }

  @Post('ban')
  @HttpCode(200)
  @ApiOperation({ summary: 'Kicks (4011) and refuses the user’s joins until unbanned or the duration ends' })
  @ApiErrors(404)
  ban(@Param('room', roomPipe) room: string, @Body() body: SanctionDto, @CurrentUser() user: User) {
    return this.run(user, room, {
      action: 'ban',
      user: body.user,
      duration: body.duration ?? null,
      reason: body.reason ?? '',
    });
  }

  @Post('unban')
  @HttpCode(200)
  @ApiOperation({ summary: 'Lifts a ban (404 when the user is not banned here)' })
  @ApiErrors(404)
  unban(@Param('room', roomPipe) room: string, @Body() body: TargetDto, @CurrentUser() user: User) {
    return this.run(user, room, { action: 'unban', user: body.user, reason: body.reason ?? '' });
  }

  @Get('log')
  @ApiOperation({ summary: 'The room’s moderation log, newest first (before=<id>, limit ≤ 500)' })
  async log(
    @Param('room', roomPipe) room: string,
    @Query() query: LogQuery,
    @CurrentUser() user: User,
  ): Promise<ModerationLogView[]> {
    await this.moderation.actorFor(user, room);
    return this.moderation.entries(room, query.before, query.limit ?? 50);
  }

  @Get('sanctions')
  @ApiOperation({ summary: 'Mutes and bans in force in the room' })
  @ApiOkResponse({ description: '[{id, kind, user: {id, username, name}, reason, since, until}]' })
  async sanctions(@Param('room', roomPipe) room: string, @CurrentUser() user: User): Promise<SanctionView[]> {
    await this.moderation.actorFor(user, room);
    return this.moderation.active(room);
  }
}
