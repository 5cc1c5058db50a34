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

/** Anonymous → 401, logged in without is_staff → 403, staff without two-factor as required → 403 otp_required. */
@Injectable()
export class StaffGuard implements CanActivate {
  constructor(private readonly twoFactor: TwoFactorService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (!req.currentUser) throw new UnauthorizedException('Authentication credentials were not provided');
    if (!req.currentUser.isStaff) throw new ForbiddenException('Staff access required');
    const block = await this.twoFactor.adminBlock(req.currentUser, req.otpDeviceId ?? null);
    if (block) throw new OtpRequiredException(403, block);
    return true;
  }
}
