import { EventEmitter } from 'node:events';
import { Injectable, Logger } from '@nestjs/common';

/**
 * What the ops jobs report for a person to hear about. The jobs only publish; the alerts module
 * subscribes and turns them into webhook/email alerts, so a failing alert channel can never break
 * the job that raised it.
 */
export interface OpsEvent {
  /** e.g. `cert.renewal_failed`, `cert.expiring`, `vpn.crl_expiring`, `vpn.operation_failed`. */
  event: string;
  severity: 'info' | 'warning' | 'critical';
  subject: string;
  detail: string;
  /** Alerts with the same key are sent at most once per day (e.g. `cert.expiring:example.org`). */
  dedupeKey?: string;
}

export type OpsEventListener = (event: OpsEvent) => void | Promise<void>;

@Injectable()
export class OpsEvents {
  private readonly logger = new Logger(OpsEvents.name);
  private readonly emitter = new EventEmitter();

  publish(event: OpsEvent): void {
    for (const listener of this.emitter.listeners('event') as OpsEventListener[]) {
      // A listener's failure is logged and contained: publishing never throws into the job.
      Promise.resolve()
        .then(() => listener(event))
        .catch((err: Error) =>
          this.logger.error({
            event: 'ops_event_listener_failed',
            opsEvent: event.event,
            error: err.message,
          }),
        );
    }
  }

  subscribe(listener: OpsEventListener): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
