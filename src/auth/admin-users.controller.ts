import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../common/openapi';
import { IdPipe } from '../common/validation';
import { AdminUserDoc, UserListDoc } from './users.api';
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
import { CurrentUser } from './current-user.decorator';
import { StaffGuard } from './guards';
import { AdminUserView, User } from './user.entity';
import { CreateUserDto, ListUsersQuery, UpdateUserDto } from './users.dto';
import { toAdminView, UsersService } from './users.service';

/** Ids are int4 primary keys: 1 to 2147483647, anything else is a 400 before the database. */
const idPipe = new IdPipe();

@ApiTags('admin: users')
@ApiErrors(...STAFF_ERRORS)
@Controller('admin/users')
@UseGuards(StaffGuard)
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'Lists users (search, paging, ordering)' })
  @ApiOkResponse({ type: UserListDoc })
  @ApiErrors(400)
  list(@Query() query: ListUsersQuery): Promise<{ count: number; results: AdminUserView[] }> {
    return this.users.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One user' })
  @ApiOkResponse({ type: AdminUserDoc })
  @ApiErrors(400, 404)
  async get(@Param('id', idPipe) id: number): Promise<AdminUserView> {
    return toAdminView(await this.users.get(id));
  }

  @Post()
  @ApiOperation({ summary: 'Creates a user (no password → unusable password)' })
  @ApiCreatedResponse({ type: AdminUserDoc })
  @ApiErrors(400, 409)
  async create(@Body() dto: CreateUserDto): Promise<AdminUserView> {
    return toAdminView(await this.users.create(dto));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Changes names, email, flags or password' })
  @ApiOkResponse({ type: AdminUserDoc })
  @ApiErrors(400, 404, 409)
  async update(@Param('id', idPipe) id: number, @Body() dto: UpdateUserDto): Promise<AdminUserView> {
    return toAdminView(await this.users.update(id, dto));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Deletes a user and their sessions' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  @HttpCode(204)
  async remove(@Param('id', idPipe) id: number, @CurrentUser() me: User): Promise<void> {
    await this.users.remove(id, me);
  }
}
