import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { LiveRequest } from '../auth/auth.types';
import { RateWindow, tooManyRequests } from '../auth/tokens/rate-window';
import { AppConfig } from '../config/app.config';

/**
 * The publish API for logged-in sessions: API_TOKEN_RATE requests a minute per user, as each token
 * gets (SessionMiddleware counts those). A session is not held to a socket's flood control, so
 * without this one account could post into rooms as fast as HTTP allows.
 */
@Injectable()
export class SessionPublishRateGuard implements CanActivate {
  private readonly perUser: RateWindow;

  constructor(private readonly config: AppConfig) {
    this.perUser = new RateWindow(config.apiTokenRate);
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<LiveRequest>();
    // Tokens are counted per token before any guard; no user: AuthenticatedGuard answers 401.
    if (req.apiToken || !req.currentUser) return true;
    const wait = this.perUser.hit(String(req.currentUser.id));
    if (wait > 0)
      throw tooManyRequests(
        context.switchToHttp().getResponse<Response>(),
        wait,
        `Publish rate limit for sessions (${this.config.apiTokenRate} per minute per user) exceeded`,
      );
    return true;
  }
}
