import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HealthRegistry } from '../health/health.registry';
import { ChannelLayer } from './channel-layer';
import { ChatConfig } from './chat.config';
import { PresenceTracker } from './presence';

/** Reports the channel layer in /health (cluster mode) and closes its connections last on shutdown. */
@Injectable()
export class ChatLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly config: ChatConfig,
    private readonly layer: ChannelLayer,
    private readonly presence: PresenceTracker,
    private readonly health: HealthRegistry,
  ) {}

  onModuleInit(): void {
    if (!this.config.redisUrl) return;
    // Not critical: without Redis each instance still serves its own sockets.
    this.health.register({
      name: 'redis',
      critical: false,
      check: async () =>
        this.layer.state() === 'up'
          ? { status: 'up' }
          : { status: 'down', detail: "Redis unreachable: messages reach only this instance's sockets" },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.presence.close(), this.layer.close()]);
  }
}
