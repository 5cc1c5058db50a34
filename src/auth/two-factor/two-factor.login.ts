import { HttpException, HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import type { CookieOptions, Response } from 'express';
import { AppConfig } from '../../config/app.config';
import type { LiveRequest } from '../auth.types';
import { sessionCookieOptions } from '../cookies';
import { sessionAuthHash, sessionAuthHashMatches, signObject, unsignObject } from '../django-signing';
import { User } from '../user.entity';
import { UsersService } from '../users.service';
import { parseCode } from './codes';
import { CodeVerdict, TwoFactorService } from './two-factor.service';
import { OtpRequiredException } from './two-factor.exception';

/** The cookie that carries a login between its password step and its code step. */
export const OTP_PENDING_COOKIE = 'live_otp_pending';
/** How long the code step may follow the password step. */
export const OTP_PENDING_SECONDS = 300;
const PENDING_SALT = 'live.auth.otp-pending';
const PENDING_PATH = '/auth/login';

export const ASK_FOR_CODE =
  'Enter the 6-digit code from your authenticator app (or one of your recovery codes)';
export const WRONG_CODE = 'That code is not right, or was already used. Enter the current code.';
export const LOGIN_EXPIRED = 'The login has expired: enter your username and password again.';

/**
 * The code step of POST /auth/login. A password login of an account with an authenticator does not
 * make a session: it answers 401 `otp_required` and sets a short-lived, signed, HttpOnly cookie
 * naming the user; a second POST with `{code}` (or the first with `{username, password, code}`)
 * finishes it. The cookie is tied to the password hash, so a password changed in between voids it.
 */
@Injectable()
export class TwoFactorLogin {
  constructor(
    private readonly twoFactor: TwoFactorService,
    private readonly users: UsersService,
    private readonly config: AppConfig,
  ) {}

  /**
   * Whom the login is for and the device whose code it passed (null: the account has none), or an
   * exception: 401 asking for the code, 401 for a lapsed pending login, 429 after too many codes.
   */
  async finish(req: LiveRequest, res: Response): Promise<{ user: User; otpDeviceId: number | null }> {
    const body = req.body as { code?: unknown };
    const passwordUser = req.user as User | undefined;
    const user = passwordUser ?? (await this.pendingUser(req));
    if (!user) throw new UnauthorizedException(LOGIN_EXPIRED);
    if (!(await this.twoFactor.confirmedDevice(user.id))) {
      // The code step only for accounts with a device; a stray code on a password login is ignored.
      if (passwordUser) return { user, otpDeviceId: null };
      throw new UnauthorizedException(LOGIN_EXPIRED);
    }
    const code = parseCode(body.code); // its shape was checked by LoginBodyGuard
    if (!code) {
      this.setPending(req, res, user);
      throw new OtpRequiredException(401, ASK_FOR_CODE);
    }
    const verdict: CodeVerdict = await this.twoFactor.check(user, code, req.ip ?? 'unknown');
    if (verdict.ok) {
      res.clearCookie(OTP_PENDING_COOKIE, this.pendingOptions(req, false));
      return { user, otpDeviceId: verdict.deviceId };
    }
    if (verdict.reason === 'throttled') {
      res.setHeader('Retry-After', String(verdict.retryAfterSeconds));
      throw new HttpException(
        `Too many wrong codes. Try again in ${verdict.retryAfterSeconds} seconds.`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    if (passwordUser) this.setPending(req, res, user); // the password was right: retry with the code alone
    throw new OtpRequiredException(401, WRONG_CODE);
  }

  private setPending(req: LiveRequest, res: Response, user: User): void {
    const token = signObject(
      {
        uid: user.id,
        hash: sessionAuthHash(user.password, this.config.secretKey),
        exp: Date.now() + OTP_PENDING_SECONDS * 1000,
      },
      this.config.secretKey,
      PENDING_SALT,
    );
    res.cookie(OTP_PENDING_COOKIE, token, this.pendingOptions(req, true));
  }

  /** The user the pending-login cookie names, if it verifies, has not lapsed, and they are unchanged. */
  private async pendingUser(req: LiveRequest): Promise<User | null> {
    const token = req.cookies[OTP_PENDING_COOKIE];
    if (!token || token.length > 1000) return null;
    const keys = [this.config.secretKey, ...this.config.secretKeyFallbacks];
    const unsigned = unsignObject(token, keys, PENDING_SALT);
    if (!unsigned.ok) return null;
    const { uid, hash, exp } = (unsigned.value ?? {}) as { uid?: unknown; hash?: unknown; exp?: unknown };
    if (typeof uid !== 'number' || typeof exp !== 'number' || exp <= Date.now()) return null;
    const user = await this.users.findById(uid);
    if (!user || !user.isActive || !sessionAuthHashMatches(hash, user.password, keys)) return null;
    return user;
  }

  private pendingOptions(req: LiveRequest, withAge: boolean): CookieOptions {
    const { secure } = sessionCookieOptions(this.config, req);
    return {
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: PENDING_PATH,
      ...(withAge ? { maxAge: OTP_PENDING_SECONDS * 1000 } : {}),
    };
  }
}
