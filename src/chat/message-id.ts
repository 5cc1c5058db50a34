/** 2026-01-01T00:00:00Z: ids count milliseconds from here. */
const EPOCH_MS = Date.UTC(2026, 0, 1);
const SLOT_BITS = 6;
const SEQ_BITS = 6;
export const MAX_INSTANCE_SLOT = (1 << SLOT_BITS) - 1;
const SEQ_LIMIT = 1 << SEQ_BITS;

/**
 * Time-ordered message ids that need no database round trip (so storage never delays delivery):
 * milliseconds × 4096 + instance slot × 64 + sequence. Unique across up to 64 instances, safe
 * integers until 2095. When more than 64 ids are needed in one millisecond the clock is borrowed
 * forward, keeping ids unique and increasing.
 */
export class MessageIdGenerator {
  private lastMs = 0;
  private seq = 0;

  constructor(
    private slot = 0,
    private readonly now: () => number = Date.now,
  ) {
    this.setSlot(slot);
  }

  setSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot > MAX_INSTANCE_SLOT)
      throw new Error(`instance slot ${slot} out of range`);
    this.slot = slot;
  }

  next(): number {
    const ms = Math.max(this.now() - EPOCH_MS, this.lastMs);
    if (ms === this.lastMs) {
      this.seq++;
      if (this.seq >= SEQ_LIMIT) {
        this.lastMs++;
        this.seq = 0;
      }
    } else {
      this.lastMs = ms;
      this.seq = 0;
    }
    return this.lastMs * 4096 + this.slot * SEQ_LIMIT + this.seq;
  }

  /** The wall-clock time an id was made (milliseconds since the Unix epoch). */
  static timeOf(id: number): number {
    return Math.floor(id / 4096) + EPOCH_MS;
  }
}
