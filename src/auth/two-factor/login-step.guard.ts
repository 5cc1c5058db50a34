import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import type { LiveRequest } from '../auth.types';

/**
 * POST /auth/login's password check (Passport's local strategy), except for the code step of a
 * two-factor login (`{code}` alone, LoginBodyGuard checked the shape): there the pending-login
 * cookie says who it is, in TwoFactorLogin.
 */
@Injectable()
export class PasswordOrCodeGuard extends AuthGuard('local') {
  override canActivate(context: ExecutionContext) {
    const body = context.switchToHttp().getRequest<LiveRequest>().body as Record<string, unknown>;
    if (isCodeStep(body)) return true;
    return super.canActivate(context);
  }
}

/** A login body with a code and no credentials: the second step of a two-factor login. */
export function isCodeStep(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  return 'code' in body && !('username' in body) && !('password' in body);
}
