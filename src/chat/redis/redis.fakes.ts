/** Test doubles for the Redis layer's unit specs (nothing in the app imports this file). */
import type { OpenLink, PubSubLink } from './redis-channel-layer';

type MessageListener = (channel: Buffer, payload: Buffer) => void;

/**
 * Redis pub/sub in the test process: PUBLISH answers how many subscribers received the message,
 * and each subscriber gets its messages in publishing order, asynchronously, as from a socket.
 */
export class FakeRedis {
  private readonly subscribers = new Map<string, Set<FakeLink>>();
  /** Everything published, in order. */
  readonly published: { channel: string; payload: string }[] = [];
  /** The links opened through `open`, by role ('publisher', 'subscriber'), last opened last. */
  readonly links: { role: string; link: FakeLink }[] = [];

  /** Opens a link as `openRedis` would: ready on the next turn of the event loop. */
  readonly open: OpenLink = (_url, role, onReady) => {
    const link = new FakeLink(this);
    this.links.push({ role, link });
    setImmediate(onReady);
    return link;
  };

  publish(channel: string, payload: string): number {
    this.published.push({ channel, payload });
    const receivers = this.subscribers.get(channel) ?? new Set();
    for (const link of receivers) link.deliver(channel, payload);
    return receivers.size;
  }

  /** A bare subscriber (say, an instance that runs a version without flush barriers): it hears, never answers. */
  listener(...channels: string[]): FakeLink {
    const link = new FakeLink(this);
    void link.redis.subscribe(...channels);
    return link;
  }

  subscribe(link: FakeLink, channel: string): void {
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(link);
  }

  unsubscribe(link: FakeLink, channel: string): void {
    this.subscribers.get(channel)?.delete(link);
  }
}

export class FakeLink implements PubSubLink {
  /** Set false to stand for a connection that is down: its commands fail at once. */
  up = true;
  private listener: MessageListener | null = null;
  private readonly channels = new Set<string>();
  /** What this link received, as subscriber. */
  readonly received: { channel: string; payload: string }[] = [];

  readonly redis = {
    subscribe: async (...channels: string[]): Promise<unknown> => {
      this.check();
      for (const c of channels) {
        this.server.subscribe(this, c);
        this.channels.add(c);
      }
      return channels.length;
    },
    unsubscribe: async (...channels: string[]): Promise<unknown> => {
      this.check();
      for (const c of channels) {
        this.server.unsubscribe(this, c);
        this.channels.delete(c);
      }
      return channels.length;
    },
    publish: async (channel: string, message: string): Promise<number> => {
      this.check();
      return this.server.publish(channel, message);
    },
    on: (_event: 'messageBuffer', listener: MessageListener): unknown => (this.listener = listener),
  };

  constructor(private readonly server: FakeRedis) {}

  deliver(channel: string, payload: string): void {
    setImmediate(() => {
      this.received.push({ channel, payload });
      this.listener?.(Buffer.from(channel), Buffer.from(payload));
    });
  }

  async close(): Promise<void> {
    this.up = false;
    for (const c of this.channels) this.server.unsubscribe(this, c);
    this.channels.clear();
  }

  private check(): void {
    if (!this.up) throw new Error('Connection is closed.');
  }
}
