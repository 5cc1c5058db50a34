import { DomainException } from '../common/domain.exception';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';

/** Room rules and moderation: a refused join or action, an unknown message or user, rules that cannot be read. */
export class ChatError extends DomainException<
  'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable'
> {}

/** Marks the error withDeadline gives when a rules read outlives its bound. */
export const RULES_DEADLINE = 'room rules';

/**
 * The 503 for a rules read that failed because the database cannot answer (or did not in time), or
 * null for any other error (a bug, left to surface as one).
 */
export function rulesUnavailable(err: unknown): ChatError | null {
  const message = (err as Error)?.message ?? '';
  if (message.startsWith(`${RULES_DEADLINE}: no answer within`))
    return new ChatError('unavailable', 'Database unavailable: no answer within the time limit (room rules)');
  if (isDatabaseUnavailable(err))
    return new ChatError('unavailable', `Database unavailable: ${describeDatabaseError(err)} (room rules)`);
  return null;
}
