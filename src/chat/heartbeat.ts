import { RoomHub } from './room-hub';

/**
 * Dead peers: every CHAT_PING_INTERVAL_MS each socket is pinged, and one that did not answer the
 * previous ping (its connection marks `alive` on a pong) is terminated.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly hub: RoomHub,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  sweep(): void {
    for (const c of this.hub.clients()) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}
