import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { ChannelLayer, InMemoryChannelLayer } from './channel-layer';
import { ChatLifecycle } from './chat-lifecycle';
import { ChatMessageEntity } from './chat-message.entity';
import { ChatUpgradeHandler } from './chat-upgrade';
import { ChatConfig } from './chat.config';
import { ChatGateway } from './chat.gateway';
import { ChatService } from './chat.service';
import { HistoryService } from './history.service';
import { InstanceSlot } from './instance-slot';
import { InMemoryPresence, PresenceTracker } from './presence';
import { RedisChannelLayer } from './redis/redis-channel-layer';
import { RedisPresence } from './redis/redis-presence';
import { RetentionJob } from './retention.job';
import { RoomsController } from './rooms.controller';

@Module({
  imports: [TypeOrmModule.forFeature([ChatMessageEntity]), AuthModule],
  controllers: [RoomsController],
  providers: [
    {
      provide: ChannelLayer,
      inject: [ChatConfig],
      useFactory: (config: ChatConfig) =>
        config.redisUrl
          ? new RedisChannelLayer(config.redisUrl, config.redisPrefix)
          : new InMemoryChannelLayer(),
    },
    {
      provide: PresenceTracker,
      inject: [ChatConfig],
      useFactory: (config: ChatConfig) =>
        config.redisUrl
          ? new RedisPresence(config.redisUrl, config.redisPrefix, config.redisPresenceTtlMs)
          : new InMemoryPresence(),
    },
    InstanceSlot,
    ChatLifecycle,
    HistoryService,
    ChatService,
    ChatUpgradeHandler,
    ChatGateway,
    RetentionJob,
  ],
  exports: [ChatService, HistoryService, ChannelLayer],
})
export class ChatModule {}
