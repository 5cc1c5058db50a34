import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { LiveRequest } from '../auth.types';
import { TOKEN_SCOPE_METADATA, TokenScope } from './scopes';

/**
 * Narrows a token request to the token's scopes (global, before the route's own guards): a route
 * without @TokenScope refuses tokens altogether, one with it needs that scope. Requests with a
 * session cookie are not concerned; the route's guards (staff, moderator) still apply to both.
 */
@Injectable()
export class TokenScopeGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<LiveRequest>();
    if (!req.apiToken) return true;
    const needed = this.reflector.getAllAndOverride<TokenScope | 'any' | undefined>(TOKEN_SCOPE_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (needed === undefined)
      throw new ForbiddenException('This endpoint does not accept API tokens; log in with a session');
    if (needed !== 'any' && !req.apiToken.scopes.includes(needed))
      throw new ForbiddenException(`This token lacks the "${needed}" scope`);
    return true;
  }
}
