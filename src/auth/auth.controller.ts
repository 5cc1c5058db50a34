import { ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi';
import { CsrfDoc, PublicUserDoc } from './users.api';
import { ApiOtpRequired } from './two-factor/two-factor.api';
import { LoginBodyDoc } from './two-factor/two-factor.dto';
import { PasswordOrCodeGuard } from './two-factor/login-step.guard';
import { TwoFactorLogin } from './two-factor/two-factor.login';
import { Controller, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { AppConfig } from '../config/app.config';
import { LiveRequest } from './auth.types';
import { clearSessionCookie, setCsrfCookie, setSessionCookie } from './cookies';
import { CsrfAlways, newCsrfToken } from './csrf';
import { AuthenticatedGuard } from './guards';
import { LoginBodyGuard } from './login-body.guard';
import { SessionStore } from './session.store';
import { PublicUser, toPublicUser, User } from './user.entity';
import { UsersService } from './users.service';
import { TokenScope } from './tokens/scopes';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly sessions: SessionStore,
    private readonly users: UsersService,
    private readonly config: AppConfig,
    private readonly twoFactorLogin: TwoFactorLogin,
  ) {}

  /**
   * Hands out a CSRF token (and sets the CSRF cookie if the client has none), and the cookie's name
   * (CSRF_COOKIE_NAME), which the chat page and console read before each unsafe request.
   */
  @Get('csrf')
  @ApiOperation({
    summary: 'Sets the CSRF cookie and returns the token for the X-CSRFToken header, and the cookie name',
  })
  @ApiOkResponse({ type: CsrfDoc })
  csrf(
    @Req() req: LiveRequest,
    @Res({ passthrough: true }) res: Response,
  ): { csrfToken: string; cookieName: string } {
    const existing = req.cookies[this.config.csrfCookieName];
    const token = existing && /^[A-Za-z0-9_-]{32,64}$/.test(existing) ? existing : newCsrfToken();
    if (token !== existing) setCsrfCookie(this.config, req, res, token);
    return { csrfToken: token, cookieName: this.config.csrfCookieName };
  }

  @Post('login')
  @ApiOperation({
    summary: 'Logs in: sets a fresh session cookie (and rotates the CSRF token)',
    description:
      'An account with two-factor needs its code too: `{username, password}` answers 401 with ' +
      '`otp_required: true` and sets the short-lived `live_otp_pending` cookie; then `{code}` logs in. ' +
      'Or send `{username, password, code}` in one call.',
  })
  @ApiBody({ type: LoginBodyDoc })
  @ApiOkResponse({ type: PublicUserDoc })
  @ApiErrors(400, 403, 429)
  @ApiOtpRequired(
    401,
    'Wrong username or password; or, with `otp_required: true`, the password was right and the code is ' +
      'missing or wrong (send `{code}`); or the pending two-factor login lapsed',
  )
  @HttpCode(200)
  @CsrfAlways()
  @UseGuards(LoginBodyGuard, PasswordOrCodeGuard)
  async login(@Req() req: LiveRequest, @Res({ passthrough: true }) res: Response): Promise<PublicUser> {
    const { user, otpDeviceId } = await this.twoFactorLogin.finish(req, res);
    // A fresh key at login: a session id planted before login is worthless after it.
    if (req.sessionKey) await this.sessions.delete(req.sessionKey);
    const session = await this.sessions.create(user, otpDeviceId);
    await this.users.recordLogin(user);
    setSessionCookie(this.config, req, res, session.sessionKey);
    setCsrfCookie(this.config, req, res, newCsrfToken()); // Django rotates the CSRF token at login too
    return toPublicUser(user);
  }

  @Post('logout')
  @ApiOperation({ summary: 'Deletes the session' })
  @ApiNoContentResponse()
  @ApiErrors(403)
  @HttpCode(204)
  async logout(@Req() req: LiveRequest, @Res({ passthrough: true }) res: Response): Promise<void> {
    if (req.sessionKey) await this.sessions.delete(req.sessionKey);
    clearSessionCookie(this.config, req, res);
  }

  @Get('me')
  @TokenScope('any')
  @ApiOperation({ summary: 'The logged-in user (or the API token’s)' })
  @ApiOkResponse({ type: PublicUserDoc })
  @ApiErrors(401)
  @UseGuards(AuthenticatedGuard)
  me(@Req() req: LiveRequest): PublicUser {
    return toPublicUser(req.currentUser as User);
  }
}
