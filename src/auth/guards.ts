import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { LiveRequest } from './auth.types';
import { OtpRequiredException } from './two-factor/two-factor.exception';
import { TwoFactorService } from './two-factor/two-factor.service';

/** Anonymous → 401. */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (!req.currentUser) throw new UnauthorizedException('Authentication credentials were not provided');
    return true;
  }
}

/**
 * Anonymous → 401, logged in without is_staff → 403, staff without two-factor as required → 403
 * otp_required (a token request: its scopes were checked by TokenScopeGuard).
 */
@Injectable()
export class StaffGuard implements CanActivate {
  constructor(private readonly twoFactor: TwoFactorService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (!req.currentUser) throw new UnauthorizedException('Authentication credentials were not provided');
    if (!req.currentUser.isStaff) throw new ForbiddenException('Staff access required');
    // A token's admin scopes were granted by a session that passed two-factor (TokensController).
    if (req.apiToken) return true;
    const block = await this.twoFactor.adminBlock(req.currentUser, req.otpDeviceId ?? null);
    if (block) throw new OtpRequiredException(403, block);
    return true;
  }
}
