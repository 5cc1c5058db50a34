import { DomainException } from '../common/domain.exception';

/** Users and accounts: unknown user, taken username, a rule about who may change which account. */
export class AuthError extends DomainException<'not_found' | 'conflict' | 'invalid' | 'forbidden'> {}
