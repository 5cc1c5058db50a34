import { HttpException, Injectable, NestMiddleware, UnauthorizedException } from '@nestjs/common';
import { parse } from 'cookie';
import type { NextFunction, Response } from 'express';
import { AppConfig } from '../config/app.config';
import { LiveRequest } from './auth.types';
import { SessionStore } from './session.store';
import { ApiTokenStore, parseAuthorization } from './tokens/api-token.store';
import { RateWindow, tooManyRequests } from './tokens/rate-window';

/** Every failure says the same: whether a token exists, was revoked or expired is not told. */
export const INVALID_TOKEN = 'Invalid token.';

/**
 * Resolves who is behind every HTTP request: an API token (`Authorization: Token <key>` or
 * `Bearer <key>`: cookies are then ignored, and so is CSRF, as no cookie is involved), or else the
 * session cookie (SESSION_COOKIE_NAME). Tokens are rate-limited per token (API_TOKEN_RATE) and
 * failed token requests per address (API_TOKEN_FAILURES_PER_ADDRESS).
 */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  private readonly perToken: RateWindow;
  private readonly failuresPerAddress: RateWindow;

  constructor(
    private readonly sessions: SessionStore,
    private readonly tokens: ApiTokenStore,
    private readonly config: AppConfig,
  ) {
    this.perToken = new RateWindow(config.apiTokenRate);
    this.failuresPerAddress = new RateWindow(config.apiTokenFailuresPerAddress);
  }

  async use(req: LiveRequest, res: Response, next: NextFunction): Promise<void> {
    try {
      req.cookies = req.headers.cookie ? parse(req.headers.cookie) : {};
      req.apiToken = null;
      const authorization = parseAuthorization(req.headers.authorization);
      if (authorization !== null) return next(await this.tokenLogin(req, res, authorization));
      req.sessionKey = req.cookies[this.config.sessionCookieName];
      const session = await this.sessions.resolve(req.sessionKey);
      req.currentUser = session?.user ?? null;
      req.otpDeviceId = session?.otpDeviceId ?? null;
      next();
    } catch (err) {
      next(err);
    }
  }

  /** Undefined when the token is good (the request goes on as its user), else the error to answer. */
  private async tokenLogin(
    req: LiveRequest,
    res: Response,
    authorization: { malformed: string } | { key: string },
  ): Promise<HttpException | undefined> {
    req.currentUser = null;
    req.sessionKey = undefined;
    req.otpDeviceId = null;
    const address = req.ip ?? 'unknown';
    const blocked = this.failuresPerAddress.blocked(address);
    if (blocked > 0) return tooManyRequests(res, blocked, 'Too many requests with invalid tokens');
    const login = 'key' in authorization ? await this.tokens.authenticate(authorization.key) : null;
    if (!login) {
      this.failuresPerAddress.hit(address);
      res.setHeader('WWW-Authenticate', 'Token');
      return new UnauthorizedException(
        'malformed' in authorization ? authorization.malformed : INVALID_TOKEN,
      );
    }
    const wait = this.perToken.hit(String(login.token.id));
    if (wait > 0)
      return tooManyRequests(res, wait, `Token rate limit (${this.config.apiTokenRate} per minute) exceeded`);
    req.currentUser = login.user;
    req.apiToken = login.token;
    return undefined;
  }
}
