import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { LiveRequest } from './auth.types';
import type { User } from './user.entity';

/** The request's logged-in user (null when anonymous; use behind AuthenticatedGuard/StaffGuard). */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): User | null =>
    context.switchToHttp().getRequest<LiveRequest>().currentUser,
);
