import { DomainException } from '../common/domain.exception';

/** Alerting: asked to send where no channel is configured. */
export class AlertsError extends DomainException<'conflict'> {}
