import type { Request } from 'express';
import type { ApiTokenIdentity } from './tokens/scopes';
import type { User } from './user.entity';

/** The cookies' names are settings: AppConfig.sessionCookieName and csrfCookieName. */
export const CSRF_HEADER = 'x-csrftoken';

/** An Express request after the session middleware ran. */
export interface LiveRequest extends Request {
  cookies: Record<string, string | undefined>;
  /** The logged-in, active user, or null for anonymous requests. */
  currentUser: User | null;
  sessionKey?: string;
  /** The two-factor device whose code this session passed (null: password only). */
  otpDeviceId?: number | null;
  /** The API token the request came with (Authorization header), or null: cookie or anonymous. */
  apiToken?: ApiTokenIdentity | null;
}
