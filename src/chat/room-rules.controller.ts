import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query, UseGuards } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator';
import { StaffGuard } from '../auth/guards';
import type { User } from '../auth/user.entity';
import { ApiErrors, STAFF_ERRORS } from '../common/openapi';
import { AdminLogQuery, RoomRulesDto } from './moderation.dto';
import { ModerationLogView, ModerationService } from './moderation.service';
import { RoomNamePipe } from './room-name.pipe';
import { RoomRulesService, RoomRulesView } from './room-rules.service';
import { TokenScope } from '../auth/tokens/scopes';

const roomPipe = new RoomNamePipe();

/** Staff declare rooms (who joins, who posts, topic, moderators, members) and read every room's moderation log. */
@ApiTags('admin: chat')
@ApiErrors(...STAFF_ERRORS, 503)
@TokenScope('chat:moderate')
@Controller('admin/chat')
@UseGuards(StaffGuard)
export class RoomRulesController {
  constructor(
    private readonly rules: RoomRulesService,
    private readonly moderation: ModerationService,
  ) {}

  @Get('rooms')
  @ApiOperation({ summary: 'Rooms with rules' })
  list(): Promise<RoomRulesView[]> {
    return this.rules.list();
  }

  @Get('rooms/:room')
  @ApiOperation({ summary: 'One room’s rules (404: the room has none)' })
  @ApiErrors(400, 404)
  get(@Param('room', roomPipe) room: string): Promise<RoomRulesView> {
    return this.rules.get(room);
  }

  @Put('rooms/:room')
  @ApiOperation({
    summary: 'Declares a room or replaces its rules',
    description:
      'join: anyone | users | members; post: the same or moderators; members by username and Django group name. ' +
      'Open sockets are decided again at once on every instance: those the rules now shut out are closed with 4012.',
  })
  @ApiErrors(400)
  put(
    @Param('room', roomPipe) room: string,
    @Body() body: RoomRulesDto,
    @CurrentUser() user: User,
  ): Promise<RoomRulesView> {
    return this.rules.put(room, body, user);
  }

  @Delete('rooms/:room')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Removes a room’s rules (it is open again, or 404 with CHAT_UNDECLARED_ROOMS=closed)',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async remove(@Param('room', roomPipe) room: string, @CurrentUser() user: User): Promise<void> {
    await this.rules.remove(room, user);
  }

  @Get('moderation/log')
  @ApiOperation({ summary: 'Every room’s moderation log (or room=…), newest first' })
  @ApiErrors(400)
  log(@Query() query: AdminLogQuery): Promise<ModerationLogView[]> {
    return this.moderation.entries(query.room ?? null, query.before, query.limit ?? 50);
  }
}
