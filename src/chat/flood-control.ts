import type { ChatConfig } from './chat.config';

export type FloodVerdict = 'ok' | 'drop' | 'close';

/**
 * One socket's token bucket: CHAT_RATE messages per second, up to CHAT_BURST at once. A message
 * over the limit is dropped ('drop'); CHAT_FLOOD_STRIKES drops in a row mean the socket keeps
 * flooding ('close': the connection closes it with 1008).
 */
export class FloodControl {
  private tokens: number;
  private lastRefill: number;
  private strikes = 0;

  constructor(
    private readonly limits: Pick<ChatConfig, 'rate' | 'burst' | 'floodStrikes'>,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limits.burst;
    this.lastRefill = now();
  }

  /** Takes a token for one incoming message. */
  take(): FloodVerdict {
    const now = this.now();
    const { rate, burst, floodStrikes } = this.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes = 0;
      return 'ok';
    }
    this.strikes++;
    return this.strikes >= floodStrikes ? 'close' : 'drop';
  }
}
