import { DomainException } from '../../common/domain.exception';

/** Certificate runs: an unknown run, or a run already in progress (here or on another instance). */
export class CertsError extends DomainException<'not_found' | 'conflict'> {}
