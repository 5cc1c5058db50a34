import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HealthRegistry } from '../health/health.registry';
import { MetricsService } from '../metrics/metrics.service';
import { ChatService } from './chat.service';
import { ChannelLayer } from './channel-layer';
import { ChatConfig } from './chat.config';
import { HistoryService } from './history.service';
import { PresenceTracker } from './presence';

/** Reports the channel layer and history writes in /health and /metrics, and closes its connections last on shutdown. */
@Injectable()
export class ChatLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly config: ChatConfig,
    private readonly layer: ChannelLayer,
    private readonly presence: PresenceTracker,
    private readonly health: HealthRegistry,
    private readonly metrics: MetricsService,
    private readonly chat: ChatService,
    private readonly history: HistoryService,
  ) {}

  onModuleInit(): void {
    this.metrics.gauge('live_chat_open_sockets', 'Open chat sockets on this instance', [], (set) =>
      set(this.chat.socketCount),
    );
    this.metrics.gauge('live_chat_rooms', 'Rooms with at least one socket on this instance', [], (set) =>
      set(this.chat.localRooms().length),
    );
    this.metrics.gauge(
      'live_channel_layer_up',
      'Channel layer state: 1 up, 0 down (Redis unreachable)',
      ['layer'],
      (set) => set(this.layer.state() === 'up' ? 1 : 0, { layer: this.config.redisUrl ? 'redis' : 'memory' }),
    );
    // Not critical: chat goes on while history writes fail; queued messages are kept and retried.
    this.health.register({
      name: 'history',
      critical: false,
      check: async () => {
        const w = this.history.historyWriteState();
        if (w.state === 'ok') return { status: 'up' };
        return {
          status: 'degraded',
          detail:
            `history writes failing since ${w.since?.toISOString()}: ${w.lastError}; ` +
            `${w.queued} messages queued, retried until the database takes them`,
        };
      },
    });
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
