import { BadRequestException, Controller, Delete, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../../common/openapi';
import { CurrentUser } from '../current-user.decorator';
import { StaffGuard } from '../guards';
import { LoginThrottle } from '../login-throttle';
import type { User } from '../user.entity';
import { LockoutListDoc, LockoutView, toLockoutView, UnlockResultDoc } from './lockouts.api';
import { UnlockQuery } from './lockouts.dto';
import { TokenScope } from '../tokens/scopes';

@ApiTags('admin: lockouts')
@ApiErrors(...STAFF_ERRORS)
@TokenScope('admin:users')
@Controller('admin/lockouts')
@UseGuards(StaffGuard)
export class LockoutsController {
  constructor(private readonly throttle: LoginThrottle) {}

  @Get()
  @ApiOperation({ summary: 'Usernames and addresses locked out by failed logins now' })
  @ApiOkResponse({ type: LockoutListDoc })
  async list(): Promise<{
    windowSeconds: number;
    maxFailures: number;
    maxFailuresPerAddress: number;
    lockouts: LockoutView[];
  }> {
    const { windowMs, perPair, perAddress } = this.throttle.limits;
    return {
      windowSeconds: windowMs / 1000,
      maxFailures: perPair,
      maxFailuresPerAddress: perAddress,
      lockouts: (await this.throttle.lockouts()).map(toLockoutView),
    };
  }

  @Delete()
  @ApiOperation({
    summary: 'Clears failed logins: of a username from an address, of a username, or of an address',
  })
  @ApiOkResponse({ type: UnlockResultDoc })
  @ApiErrors(400)
  async unlock(
    @Query() query: UnlockQuery,
    @CurrentUser() me: User,
  ): Promise<{ lockouts: LockoutView[]; failuresCleared: number }> {
    const { username, address } = query;
    const filter =
      username !== undefined
        ? { username, ...(address !== undefined && { address }) }
        : address !== undefined
          ? { address }
          : null;
    if (!filter) throw new BadRequestException('username or address is required');
    const result = await this.throttle.unlock(filter, me.username);
    return { lockouts: result.lockouts.map(toLockoutView), failuresCleared: result.failuresCleared };
  }
}
