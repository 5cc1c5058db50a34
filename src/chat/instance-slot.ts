import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { JobLockService } from '../database/job-lock.service';
import { MAX_INSTANCE_SLOT } from './message-id';

const LEASE_MS = 60_000;

/**
 * Message ids carry an instance slot (0..63) so instances never mint the same id. Each instance
 * leases a free slot in the shared database (the job-lease table) and renews it; a crashed
 * instance's slot frees itself when the lease lapses.
 */
@Injectable()
export class InstanceSlot implements OnModuleDestroy {
  private readonly logger = new Logger('InstanceSlot');
  private slot: number | null = null;
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(private readonly lock: JobLockService) {}

  /** Leases a slot and keeps it; `onChange` hears the slot now and whenever it has to change. */
  async acquire(onChange: (slot: number) => void): Promise<number> {
    const slot = await this.findFree();
    this.slot = slot;
    onChange(slot);
    this.renewTimer = setInterval(() => void this.renew(onChange), LEASE_MS / 3);
    this.renewTimer.unref();
    return slot;
  }

  private async findFree(): Promise<number> {
    const start = Math.floor(Math.random() * (MAX_INSTANCE_SLOT + 1));
    for (let i = 0; i <= MAX_INSTANCE_SLOT; i++) {
      const slot = (start + i) % (MAX_INSTANCE_SLOT + 1);
      if (await this.lock.tryAcquire(leaseName(slot), LEASE_MS)) {
        this.logger.log({ event: 'instance_slot_leased', slot });
        return slot;
      }
    }
    throw new Error(
      `all ${MAX_INSTANCE_SLOT + 1} instance slots are taken: too many live instances on one database`,
    );
  }

  private async renew(onChange: (slot: number) => void): Promise<void> {
    if (this.slot === null) return;
    try {
      if (await this.lock.tryAcquire(leaseName(this.slot), LEASE_MS)) return;
      // The process stalled past the lease and someone took the slot: move to another one.
      this.logger.warn({ event: 'instance_slot_lost', slot: this.slot });
      this.slot = await this.findFree();
      onChange(this.slot);
    } catch (err) {
      this.logger.warn({ event: 'instance_slot_renew_failed', error: (err as Error).message });
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    if (this.slot !== null) await this.lock.release(leaseName(this.slot)).catch(() => undefined);
  }
}

function leaseName(slot: number): string {
  return `chat-instance-slot:${slot}`;
}
