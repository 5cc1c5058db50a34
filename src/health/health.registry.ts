import { Injectable } from '@nestjs/common';

export type ComponentStatus = 'up' | 'down' | 'degraded';
export interface ComponentHealth {
  status: ComponentStatus;
  detail?: string;
}
/**
 * A component that reports its health. `critical` ones make /health answer 503 when down; the others
 * (certificates, Redis fan-out, VPN) only show as degraded so a load balancer keeps sending traffic.
 */
export interface HealthContributor {
  name: string;
  critical: boolean;
  check(): Promise<ComponentHealth>;
}

/** Feature modules register what /health should report. */
@Injectable()
export class HealthRegistry {
  private readonly contributors = new Map<string, HealthContributor>();

  register(contributor: HealthContributor): void {
    this.contributors.set(contributor.name, contributor);
  }

  all(): HealthContributor[] {
    return [...this.contributors.values()];
  }
}
