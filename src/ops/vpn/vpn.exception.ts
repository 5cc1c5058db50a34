import { DomainException } from '../../common/domain.exception';

export type VpnErrorKind =
  'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'gone' | 'tool_failed' | 'unavailable';

/** A PKI operation that did not work, with the tool's own reason. */
export class VpnError extends DomainException<VpnErrorKind> {}
