import { DomainException } from '../common/domain.exception';

/** Users and accounts: unknown user, taken username, a rule about one's own account. */
export class AuthError extends DomainException<'not_found' | 'conflict' | 'invalid'> {}
