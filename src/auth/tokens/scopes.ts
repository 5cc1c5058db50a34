import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension, ApiSecurity } from '@nestjs/swagger';

/**
 * What an API token may be used for. A token acts with its user's rights narrowed to these: a
 * staff-only endpoint also needs the user to be staff, a moderation action a moderator.
 */
export const TOKEN_SCOPES = [
  'chat:read',
  'chat:publish',
  'chat:moderate',
  'admin:users',
  'admin:certs',
  'admin:vpn',
  'admin:alerts',
] as const;

export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** Route metadata: the scope a token needs there ('any': every valid token). Absent: tokens refused. */
export const TOKEN_SCOPE_METADATA = 'live:token-scope';

/** The OpenAPI security scheme names (registered in src/common/openapi.ts). */
export const TOKEN_SECURITY = 'token';
export const SESSION_SECURITY = 'session';

export function isTokenScope(value: string): value is TokenScope {
  return (TOKEN_SCOPES as readonly string[]).includes(value);
}

/**
 * Lets API tokens call this route (class or handler) when they carry `scope`. Routes without it
 * answer a token with 403: a token reaches only what was opened to it on purpose.
 */
export const TokenScope = (scope: TokenScope | 'any'): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(TOKEN_SCOPE_METADATA, scope),
    // Either a session (with its CSRF header on unsafe methods) or a token; OpenAPI 3.0 has no scopes
    // for API-key schemes, so the scope a token needs is the operation's `x-token-scope`.
    ApiSecurity({ [SESSION_SECURITY]: [], csrf: [] }),
    ApiSecurity(TOKEN_SECURITY),
    ApiExtension('x-token-scope', scope),
  );

/** The API token a request or socket was authenticated with. */
export interface ApiTokenIdentity {
  id: number;
  scopes: readonly TokenScope[];
}

/**
 * The key under which a socket opened with a token is indexed and re-checked, beside session keys
 * (those are 32 characters of [a-z0-9], so the two never meet).
 */
export function tokenCredentialKey(tokenId: number): string {
  return `token:${tokenId}`;
}

export function tokenIdOfCredentialKey(key: string): number | null {
  const m = /^token:(\d{1,15})$/.exec(key);
  return m ? Number(m[1]) : null;
}
