import { randomUUID } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import { waitAtMost } from '../../common/deadline';
import type { FlushBarrierResult, FlushHandler } from '../channel-layer';
import { FlushAck, FlushRequest, parseFlushControl } from './flush-control';
import type { RedisNames } from './redis-topology';

/** What the barrier needs of the publishing connection. */
export interface Publisher {
  readonly up: boolean;
  readonly redis: { publish(channel: string, message: string): Promise<number> };
}

/** One request in flight: which instances confirmed, out of how many received it. */
class PendingBarrier {
  /** PUBLISH's answer: the subscribers that received the request, this instance among them if it listens. */
  private receivers: number | null = null;
  private selfHeard = false;
  private readonly confirmed = new Set<string>();
  private readonly failed = new Set<string>();
  private resolve!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolve = resolve));

  received(receivers: number): void {
    this.receivers = receivers;
    this.check();
  }

  heardSelf(): void {
    this.selfHeard = true;
    this.check();
  }

  ack(from: string, ok: boolean): void {
    if (this.confirmed.has(from) || this.failed.has(from)) return;
    (ok ? this.confirmed : this.failed).add(from);
    this.check();
  }

  /** A failed write is not a confirmation: the wait then runs to its deadline, as before barriers. */
  private check(): void {
    if (this.receivers !== null && this.confirmed.size + (this.selfHeard ? 1 : 0) >= this.receivers)
      this.resolve();
  }

  result(): FlushBarrierResult {
    const self = this.selfHeard ? 1 : 0;
    const expected = this.receivers === null ? null : this.receivers - self;
    return {
      expected,
      acks: this.confirmed.size,
      failed: this.failed.size,
      complete: expected !== null && this.confirmed.size >= expected,
    };
  }
}

/**
 * The flush barrier over Redis. A request goes to `<prefix>:chat-control`, which every instance
 * subscribes to whatever rooms it holds (an instance whose last member left a room may still hold
 * that room's messages unsaved); each instance writes its queued history and acknowledges on the
 * asker's own channel, `<prefix>:chat-control:<origin>` (on a cluster both channels carry the
 * hash tag `{<prefix>:control}`: one shard, whose SPUBLISH counts its subscribers the same way).
 * PUBLISH's reply says how many
 * subscribers received the request; the asker's own copy counts as its acknowledgement, as its
 * history reads include what it holds unsaved.
 */
export class RedisFlushBarrier {
  readonly requests: string;
  readonly replies: string;
  private readonly pending = new Map<string, PendingBarrier>();
  private handler: FlushHandler = async () => true; // nothing posted before the chat starts

  constructor(
    private readonly names: RedisNames,
    private readonly origin: string,
    private readonly publisher: Publisher,
    private readonly logger: Pick<Logger, 'debug' | 'warn'>,
  ) {
    this.requests = names.flushRequests;
    this.replies = this.replyChannel(origin);
  }

  setHandler(handler: FlushHandler): void {
    this.handler = handler;
  }

  /** Whether `channel` is one of the barrier's (never a room's: those are `<prefix>:chat:<room>`). */
  owns(channel: string): boolean {
    return channel === this.requests || channel === this.replies;
  }

  async run(room: string, deadlineMs: number): Promise<FlushBarrierResult> {
    const started = Date.now();
    const token = randomUUID();
    const barrier = new PendingBarrier();
    this.pending.set(token, barrier);
    if (this.publisher.up) {
      const request: FlushRequest = { type: 'history.flush', token, from: this.origin };
      this.publisher.redis.publish(this.requests, JSON.stringify(request)).then(
        (receivers) => barrier.received(receivers),
        () => undefined, // not sent: the deadline decides
      );
    }
    await waitAtMost(barrier.done, deadlineMs);
    this.pending.delete(token);
    const result = barrier.result();
    this.logger.debug({ event: 'history_barrier', room, ...result, ms: Date.now() - started });
    return result;
  }

  receive(channel: string, payload: string): void {
    const control = parseFlushControl(payload);
    if (control?.type === 'history.flush' && channel === this.requests) this.answer(control);
    else if (control?.type === 'history.flushed' && channel === this.replies)
      this.pending.get(control.token)?.ack(control.from, control.ok);
    else this.logger.warn({ event: 'redis_bad_control', channel });
  }

  private answer(request: FlushRequest): void {
    if (request.from === this.origin) {
      this.pending.get(request.token)?.heardSelf();
      return;
    }
    void Promise.resolve()
      .then(() => this.handler())
      .catch(() => false)
      .then((ok) => {
        if (!this.publisher.up) return;
        const ack: FlushAck = { type: 'history.flushed', token: request.token, from: this.origin, ok };
        this.publisher.redis
          .publish(this.replyChannel(request.from), JSON.stringify(ack))
          .catch(() => undefined); // the asker's deadline covers a lost answer
      });
  }

  private replyChannel(origin: string): string {
    return this.names.flushReplies(origin);
  }
}
