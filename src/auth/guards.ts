import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import type { LiveRequest } from './auth.types';

/** Anonymous → 401. */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (!req.currentUser) throw new UnauthorizedException('Authentication credentials were not provided');
    return true;
  }
}

/** Anonymous → 401, logged in without is_staff → 403. */
@Injectable()
export class StaffGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (!req.currentUser) throw new UnauthorizedException('Authentication credentials were not provided');
    if (!req.currentUser.isStaff) throw new ForbiddenException('Staff access required');
    return true;
  }
}
