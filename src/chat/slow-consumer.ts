import { CLOSE } from './chat.protocol';
import type { ChatLog } from './chat-log';
import type { ChatSocket } from './chat-socket';

/** How long a slow consumer gets to take its close frame before it is cut. */
const SLOW_CONSUMER_GRACE_MS = 2000;

/**
 * A socket that does not read what it is sent must not make the server buffer without bound: one
 * more than CHAT_MAX_BUFFERED_BYTES behind is closed with 1013 instead of being written to.
 */
export class SlowConsumerGuard {
  constructor(
    private readonly maxBufferedBytes: number,
    private readonly log: ChatLog,
    private readonly graceMs = SLOW_CONSUMER_GRACE_MS,
  ) {}

  /** Whether `ws` may be written to; one too far behind is closed (1013) instead. On the fan-out path. */
  admits(ws: ChatSocket, room: string): boolean {
    if (ws.bufferedAmount <= this.maxBufferedBytes) return true;
    this.shed(ws, room);
    return false;
  }

  private shed(ws: ChatSocket, room: string): void {
    this.log.warn({ event: 'socket_slow_consumer_closed', room, buffered: ws.bufferedAmount });
    ws.close(CLOSE.slowConsumer.code, CLOSE.slowConsumer.reason);
    // A peer that reads nothing will not take the close frame either: cut it after a grace period.
    setTimeout(() => ws.terminate(), this.graceMs).unref();
  }
}
