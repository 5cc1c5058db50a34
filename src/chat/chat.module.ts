import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { ChannelLayer, InMemoryChannelLayer } from './channel-layer';
import { ChatMessageEntity } from './chat-message.entity';
import { ChatUpgradeHandler } from './chat-upgrade';
import { ChatConfig } from './chat.config';
import { ChatGateway } from './chat.gateway';
import { ChatService } from './chat.service';
import { HistoryService } from './history.service';
import { InMemoryPresence, PresenceTracker } from './presence';
import { RetentionJob } from './retention.job';
import { RoomsController } from './rooms.controller';

@Module({
  imports: [TypeOrmModule.forFeature([ChatMessageEntity]), AuthModule],
  controllers: [RoomsController],
  providers: [
    { provide: ChatConfig, useFactory: () => new ChatConfig(process.env) },
    { provide: ChannelLayer, useFactory: () => new InMemoryChannelLayer() },
    { provide: PresenceTracker, useFactory: () => new InMemoryPresence() },
    HistoryService,
    ChatService,
    ChatUpgradeHandler,
    ChatGateway,
    RetentionJob,
  ],
  exports: [ChatService, ChatConfig, HistoryService, ChannelLayer],
})
export class ChatModule {}
