import { Injectable, NestMiddleware } from '@nestjs/common';
import { parse } from 'cookie';
import type { NextFunction, Response } from 'express';
import { AppConfig } from '../config/app.config';
import { LiveRequest } from './auth.types';
import { SessionStore } from './session.store';

/** Parses cookies and resolves the session cookie (SESSION_COOKIE_NAME) to the current user on every HTTP request. */
@Injectable()
export class SessionMiddleware implements NestMiddleware {
  constructor(
    private readonly sessions: SessionStore,
    private readonly config: AppConfig,
  ) {}

  async use(req: LiveRequest, _res: Response, next: NextFunction): Promise<void> {
    try {
      req.cookies = req.headers.cookie ? parse(req.headers.cookie) : {};
      req.sessionKey = req.cookies[this.config.sessionCookieName];
      const session = await this.sessions.resolve(req.sessionKey);
      req.currentUser = session?.user ?? null;
      req.otpDeviceId = session?.otpDeviceId ?? null;
      next();
    } catch (err) {
      next(err);
    }
  }
}
