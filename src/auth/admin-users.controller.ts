import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../common/openapi';
import { IdPipe } from '../common/validation';
import { AdminUserDoc, SessionsEndedDoc, UserListDoc } from './users.api';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { AdminUserDetails } from './admin-user-details';
import { CurrentUser } from './current-user.decorator';
import { StaffGuard } from './guards';
import { SessionStore } from './session.store';
import { AdminUserView, User } from './user.entity';
import { CreateUserDto, ListUsersQuery, UpdateUserDto } from './users.dto';
import { toAdminView, UsersService } from './users.service';
import { TokenScope } from './tokens/scopes';

/** Ids are int4 primary keys: 1 to 2147483647, anything else is a 400 before the database. */
const idPipe = new IdPipe();

@ApiTags('admin: users')
@ApiErrors(...STAFF_ERRORS)
@TokenScope('admin:users')
@Controller('admin/users')
@UseGuards(StaffGuard)
export class AdminUsersController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionStore,
    private readonly details: AdminUserDetails,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Lists users (search, paging, ordering)' })
  @ApiOkResponse({ type: UserListDoc })
  @ApiErrors(400)
  list(@Query() query: ListUsersQuery): Promise<{ count: number; results: AdminUserView[] }> {
    return this.users.list(query);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One user, with what other features hold of theirs',
    description:
      '`vpnClients`: the VPN clients the user owns (as GET /admin/users/:id/vpn-clients); null, with ' +
      '`unavailable.vpnClients` saying why, when the VPN cannot be read.',
  })
  @ApiOkResponse({ type: AdminUserDoc })
  @ApiErrors(400, 404)
  async get(@Param('id', idPipe) id: number): Promise<AdminUserView & Record<string, unknown>> {
    const user = toAdminView(await this.users.get(id));
    return { ...user, ...(await this.details.of(id)) };
  }

  @Post()
  @ApiOperation({
    summary: 'Creates a user (no password → unusable password)',
    description:
      "The password must pass Django's validators (400 lists every reason); only superusers may create staff or superusers (403).",
  })
  @ApiCreatedResponse({ type: AdminUserDoc })
  @ApiErrors(400, 403, 409)
  async create(@Body() dto: CreateUserDto, @CurrentUser() me: User): Promise<AdminUserView> {
    return toAdminView(await this.users.create(dto, me));
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Changes names, email, flags or password',
    description:
      "Superusers alone grant or remove staff/superuser status and change another staff member's account (403); nobody deactivates or demotes themselves (400); the last active superuser stays (409). A password must pass Django's validators (400 lists every reason).",
  })
  @ApiOkResponse({ type: AdminUserDoc })
  @ApiErrors(400, 403, 404, 409)
  async update(
    @Param('id', idPipe) id: number,
    @Body() dto: UpdateUserDto,
    @CurrentUser() me: User,
  ): Promise<AdminUserView> {
    return toAdminView(await this.users.update(id, dto, me));
  }

  @Post(':id/logout')
  @ApiOperation({
    summary: 'Logs a user out everywhere',
    description:
      "Ends every session of the user, the Django site's included; their chat sockets close with 4001 on every instance.",
  })
  @ApiOkResponse({ type: SessionsEndedDoc })
  @ApiErrors(400, 404)
  @HttpCode(200)
  async logoutEverywhere(@Param('id', idPipe) id: number): Promise<{ sessionsEnded: number }> {
    await this.users.get(id); // 404 for nobody
    return { sessionsEnded: await this.sessions.endAllOf(id) };
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Deletes a user and their sessions',
    description:
      'Not yourself (400); staff accounts only by a superuser (403); never the last active superuser (409).',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404, 409)
  @HttpCode(204)
  async remove(@Param('id', idPipe) id: number, @CurrentUser() me: User): Promise<void> {
    await this.users.remove(id, me);
  }
}
