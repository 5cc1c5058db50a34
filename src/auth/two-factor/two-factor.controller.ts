import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../../common/openapi';
import { AppConfig } from '../../config/app.config';
import type { LiveRequest } from '../auth.types';
import { setSessionCookie } from '../cookies';
import { AuthenticatedGuard } from '../guards';
import { SessionStore } from '../session.store';
import { User } from '../user.entity';
import { EnteredCode, parseCode } from './codes';
import { EnrolmentDoc, RecoveryCodesDoc, TwoFactorStatusDoc } from './two-factor.api';
import { CodeDto } from './two-factor.dto';
import { TwoFactorError } from './two-factor.exception';
import { WRONG_CODE } from './two-factor.login';
import { CodeVerdict, Enrolment, TwoFactorService, TwoFactorStatus } from './two-factor.service';

/** The logged-in account's own two-factor: status, set-up, step-up, turning it off. */
@ApiTags('two-factor')
@Controller('auth/2fa')
@UseGuards(AuthenticatedGuard)
@ApiErrors(401)
export class TwoFactorController {
  constructor(
    private readonly twoFactor: TwoFactorService,
    private readonly sessions: SessionStore,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: "The account's two-factor status, and whether this session passed it" })
  @ApiOkResponse({ type: TwoFactorStatusDoc })
  status(@Req() req: LiveRequest): Promise<TwoFactorStatus> {
    return this.twoFactor.status(req.currentUser as User, req.otpDeviceId ?? null);
  }

  @Post('enrol')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Staff: starts a set-up (again): a new secret as an otpauth:// URI, a QR code and text. ' +
      'Nothing changes until POST /auth/2fa/confirm',
  })
  @ApiOkResponse({ type: EnrolmentDoc })
  @ApiErrors(403, 409)
  enrol(@Req() req: LiveRequest): Promise<Enrolment> {
    return this.twoFactor.enrol(req.currentUser as User);
  }

  @Post('confirm')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Confirms the set-up with a code from the app: two-factor is on, this session counts as verified ' +
      '(a new session cookie), and the ten recovery codes are returned, this once',
  })
  @ApiOkResponse({ type: RecoveryCodesDoc })
  @ApiErrors(400, 409, 429)
  async confirm(
    @Req() req: LiveRequest,
    @Body() dto: CodeDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ recoveryCodes: string[] }> {
    const user = req.currentUser as User;
    const { verdict, recoveryCodes } = await this.twoFactor.confirm(user, entered(dto), req.ip ?? 'unknown');
    await this.verifiedSession(req, res, user, passed(verdict, res));
    return { recoveryCodes };
  }

  @Post('verify')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Step-up: a code of the account’s authenticator (or a recovery code) makes this session verified ' +
      '(a new session cookie), e.g. after a login on the Django site',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 409, 429)
  async verify(
    @Req() req: LiveRequest,
    @Body() dto: CodeDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const user = req.currentUser as User;
    const verdict = await this.twoFactor.check(user, entered(dto), req.ip ?? 'unknown');
    await this.verifiedSession(req, res, user, passed(verdict, res));
  }

  @Post('disable')
  @HttpCode(204)
  @ApiOperation({ summary: 'Turns two-factor off, given a current code or a recovery code' })
  @ApiNoContentResponse()
  @ApiErrors(400, 409, 429)
  async disable(
    @Req() req: LiveRequest,
    @Body() dto: CodeDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    passed(await this.twoFactor.disable(req.currentUser as User, entered(dto), req.ip ?? 'unknown'), res);
  }

  /** A new session key that records the device (as a login does: the old key is worthless after). */
  private async verifiedSession(
    req: LiveRequest,
    res: Response,
    user: User,
    deviceId: number,
  ): Promise<void> {
    if (req.sessionKey) await this.sessions.delete(req.sessionKey);
    const session = await this.sessions.create(user, deviceId);
    setSessionCookie(this.config, req, res, session.sessionKey);
  }
}

function entered(dto: CodeDto): EnteredCode {
  const code = parseCode(dto.code);
  if (!code) throw new TwoFactorError('invalid', 'code is not a code'); // CodeDto let it through: never
  return code;
}

/** The device a code passed; a wrong code is a 400, too many a 429 with Retry-After. */
function passed(verdict: CodeVerdict, res: Response): number {
  if (verdict.ok) return verdict.deviceId;
  if (verdict.reason === 'throttled') {
    res.setHeader('Retry-After', String(verdict.retryAfterSeconds));
    throw new HttpException(
      `Too many wrong codes. Try again in ${verdict.retryAfterSeconds} seconds.`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
  throw new TwoFactorError('invalid', WRONG_CODE);
}
