import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { Group, UserGroup } from '../auth/group.entity';
import { User } from '../auth/user.entity';
import { ChannelLayer, InMemoryChannelLayer } from './channel-layer';
import { ChatLifecycle } from './chat-lifecycle';
import { ChatMessageEntity } from './chat-message.entity';
import { ChatRoomEntity, ChatRoomMemberEntity } from './chat-room.entity';
import { ChatSanctionEntity } from './chat-sanction.entity';
import { ChatTicketEntity } from './chat-ticket.entity';
import { ChatTicketStore } from './chat-ticket.store';
import { ChatTicketsController } from './chat-tickets.controller';
import { ChatUpgradeHandler } from './chat-upgrade';
import { ChatConfig } from './chat.config';
import { ChatGateway } from './chat.gateway';
import { ChatService } from './chat.service';
import { ChatWebhook } from './webhooks/chat-webhook';
import { HistoryService } from './history.service';
import { InstanceSlot } from './instance-slot';
import { ModerationLogEntity } from './moderation-log.entity';
import { ModerationController } from './moderation.controller';
import { ModerationService } from './moderation.service';
import { InMemoryPresence, PresenceTracker } from './presence';
import { PublishController } from './publish.controller';
import { PublishService } from './publish.service';
import { RedisChannelLayer } from './redis/redis-channel-layer';
import { RedisPresence } from './redis/redis-presence';
import { RedisSessionEndBus } from './redis/redis-session-end-bus';
import { RetentionJob } from './retention.job';
import { RoomEnforcer } from './room-enforcer';
import { RoomPolicies } from './room-policies';
import { RoomRulesController } from './room-rules.controller';
import { RoomRulesService } from './room-rules.service';
import { RoomsController } from './rooms.controller';
import { LocalSessionEndBus, SessionEndBus } from './session-end-bus';
import { SessionWatch } from './session-watch';

@Module({
  imports: [
    TypeOrmModule.forFeature([
      ChatMessageEntity,
      ChatRoomEntity,
      ChatRoomMemberEntity,
      ChatSanctionEntity,
      ModerationLogEntity,
      ChatTicketEntity,
      User,
      Group,
      UserGroup,
    ]),
    AuthModule,
  ],
  controllers: [
    RoomsController,
    ModerationController,
    RoomRulesController,
    PublishController,
    ChatTicketsController,
  ],
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
    {
      provide: SessionEndBus,
      inject: [ChatConfig],
      useFactory: (config: ChatConfig) =>
        config.redisUrl
          ? new RedisSessionEndBus(config.redisUrl, config.redisPrefix)
          : new LocalSessionEndBus(),
    },
    SessionWatch,
    InstanceSlot,
    ChatLifecycle,
    HistoryService,
    ChatService,
    ChatWebhook,
    ChatUpgradeHandler,
    ChatTicketStore,
    ChatGateway,
    RetentionJob,
    RoomPolicies,
    RoomEnforcer,
    RoomRulesService,
    ModerationService,
    PublishService,
  ],
  exports: [ChatService, HistoryService, ChannelLayer],
})
export class ChatModule {}
