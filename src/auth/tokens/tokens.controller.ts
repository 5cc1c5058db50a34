import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../../common/openapi';
import { IdPipe } from '../../common/validation';
import type { LiveRequest } from '../auth.types';
import { CurrentUser } from '../current-user.decorator';
import { AuthenticatedGuard, StaffGuard } from '../guards';
import { OtpRequiredException } from '../two-factor/two-factor.exception';
import { TwoFactorService } from '../two-factor/two-factor.service';
import { User } from '../user.entity';
import { UsersService } from '../users.service';
import { ApiTokenStore, STAFF_SCOPES, TokenView } from './api-token.store';
import { CreateTokenDto, NewTokenDoc, TokenDoc } from './tokens.dto';

const idPipe = new IdPipe();

/**
 * A user's own API tokens. Managed with a session only (a token cannot make or list tokens):
 * whoever holds a leaked token cannot mint a longer-lived one.
 */
@ApiTags('auth: tokens')
@Controller('auth/tokens')
@UseGuards(AuthenticatedGuard)
export class TokensController {
  constructor(
    private readonly tokens: ApiTokenStore,
    private readonly users: UsersService,
    private readonly twoFactor: TwoFactorService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Makes an API token and shows its key once (only a hash is kept)',
    description:
      'Scopes narrow what the token may do: `chat:read` (rooms, history, sockets), `chat:publish` ' +
      '(post messages), `chat:moderate`, and for staff `admin:users`, `admin:certs`, `admin:vpn`, ' +
      '`admin:alerts`. Staff may make a service token for another user with `user`. A staff token with ' +
      'admin scopes needs a session that passed two-factor where it is required.',
  })
  @ApiCreatedResponse({ type: NewTokenDoc })
  @ApiErrors(400, 401, 403, 404)
  async create(@Req() req: LiveRequest, @Body() dto: CreateTokenDto): Promise<TokenView & { key: string }> {
    const me = req.currentUser as User;
    let owner = me;
    if (dto.user !== undefined && dto.user !== me.id) {
      if (!me.isStaff) throw new ForbiddenException('Only staff can make tokens for other users');
      owner = await this.users.get(dto.user);
    }
    if (me.isStaff && (dto.scopes.some((s) => STAFF_SCOPES.includes(s)) || owner !== me)) {
      // What a token may do at /admin, the session making it must have been allowed to do itself.
      const block = await this.twoFactor.adminBlock(me, req.otpDeviceId ?? null);
      if (block) throw new OtpRequiredException(403, block);
    }
    const { key, token } = await this.tokens.create({
      user: owner,
      name: dto.name,
      scopes: dto.scopes,
      expiresInDays: dto.expiresInDays ?? null,
      createdBy: owner === me ? null : me,
    });
    return { ...token, key };
  }

  @Get()
  @ApiOperation({ summary: 'Your API tokens (never their keys)' })
  @ApiOkResponse({ type: TokenDoc, isArray: true })
  @ApiErrors(401, 403)
  list(@CurrentUser() me: User): Promise<TokenView[]> {
    return this.tokens.list(me.id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revokes one of your tokens: its requests and sockets stop at once' })
  @ApiNoContentResponse()
  @ApiErrors(400, 401, 403, 404)
  async revoke(@CurrentUser() me: User, @Param('id', idPipe) id: number): Promise<void> {
    const token = await this.tokens.get(id);
    // Someone else's token is as absent as a token that does not exist.
    if (!token || token.userId !== me.id) throw new NotFoundException('No such token');
    await this.tokens.revoke(token, me);
  }
}

/** Everyone's tokens, for staff: list and revoke (the console's Tokens tab). */
@ApiTags('admin: tokens')
@ApiErrors(...STAFF_ERRORS)
@Controller('admin/tokens')
@UseGuards(StaffGuard)
export class AdminTokensController {
  constructor(private readonly tokens: ApiTokenStore) {}

  @Get()
  @ApiOperation({ summary: 'Every API token (never their keys), newest first' })
  @ApiOkResponse({ type: TokenDoc, isArray: true })
  list(): Promise<TokenView[]> {
    return this.tokens.list();
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revokes a token: its requests and sockets stop at once, on every instance' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async revoke(@CurrentUser() me: User, @Param('id', idPipe) id: number): Promise<void> {
    const token = await this.tokens.get(id);
    if (!token) throw new NotFoundException('No such token');
    await this.tokens.revoke(token, me);
  }
}
