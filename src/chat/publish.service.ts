import { Injectable, Logger } from '@nestjs/common';
import { displayName, User } from '../auth/user.entity';
import { MetricsService } from '../metrics/metrics.service';
import { ChatConfig } from './chat.config';
import { ChatError } from './chat.exception';
import { ChatMessage } from './chat.protocol';
import { ChatService } from './chat.service';
import { botNameRefusal, textRefusal } from './publish-rules';
import { RoomPolicies } from './room-policies';
import { isMuted, mutedText, Visitor } from './room-rules';

/** A published message as the API answers it: `bot` always present. */
export type PublishedMessage = Omit<ChatMessage, 'bot'> & { bot: boolean };

/** HTTP's words for a refused join (decideJoin's statuses); a logged-in caller never gets a 401 there. */
const KIND_OF_STATUS: Record<number, 'forbidden' | 'not_found'> = { 404: 'not_found' };

/**
 * The publish API (issue 19): programs post into rooms over HTTP, as a user or as a named bot. A
 * message goes through ChatService.post like a socket's, so it is stored, numbered and delivered to
 * both protocols on every instance; the room's rules, mutes, bans and the text limits of sockets
 * apply. A bot name lets its user sign as anyone, so only a room's moderators (staff included) may
 * use one.
 */
@Injectable()
export class PublishService {
  private readonly logger = new Logger('ChatPublish');

  constructor(
    private readonly chat: ChatService,
    private readonly policies: RoomPolicies,
    private readonly config: ChatConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** Posts `text` into `room` as `user` (or as the bot `botName`). */
  async publish(user: User, room: string, text: string, botName?: string): Promise<PublishedMessage> {
    const [message] = await this.broadcast(user, [room], text, botName, false);
    return message;
  }

  /**
   * Posts `text` into every room of `rooms`: all are checked first, and one refusal refuses the
   * whole request (naming the room, when `named`), so nothing is posted halfway.
   */
  async broadcast(
    user: User,
    rooms: readonly string[],
    text: string,
    botName?: string,
    named = true,
  ): Promise<PublishedMessage[]> {
    this.checkInput(text, botName);
    const visitor: Visitor = {
      userId: user.id,
      staff: user.isStaff || user.isSuperuser,
      superuser: user.isSuperuser,
      groups: null,
    };
    // Read at once (each bounded by the rules deadline); the first refusal in the given order wins.
    const checks = await Promise.allSettled(
      rooms.map((room) => this.clear(room, visitor, botName !== undefined, named)),
    );
    const refused = checks.find((c): c is PromiseRejectedResult => c.status === 'rejected');
    if (refused) throw refused.reason;
    // The checks read the database: the server may have begun to stop meanwhile.
    this.checkRunning();
    const name = botName ?? displayName(user);
    const bot = botName !== undefined;
    const messages = rooms.map((room) => this.chat.post(room, user.id, name, text, bot));
    this.metrics.chatMessagesReceived.inc(messages.length);
    if (bot) this.logger.log({ event: 'chat_bot_published', user: user.id, bot: name, rooms: rooms.length });
    return messages.map((m) => ({ ...m, bot }));
  }

  private checkInput(text: string, botName: string | undefined): void {
    this.checkRunning();
    const refused = textRefusal(text, this.config.maxMessageBytes);
    if (refused !== null) throw new ChatError('invalid', refused);
    if (botName !== undefined) {
      const badName = botNameRefusal(botName);
      if (badName !== null) throw new ChatError('invalid', badName);
    }
  }

  private checkRunning(): void {
    if (this.chat.stopping)
      throw new ChatError('unavailable', 'The server is shutting down; retry (another instance will answer)');
  }

  /** Throws the refusal a socket of `visitor` would get in `room`, as an HTTP error. */
  private async clear(room: string, visitor: Visitor, asBot: boolean, named: boolean): Promise<void> {
    const where = (message: string) => (named ? `${room}: ${message}` : message);
    const { decision } = await this.policies.admit(room, visitor);
    if (!decision.ok)
      throw new ChatError(KIND_OF_STATUS[decision.status] ?? 'forbidden', where(decision.message));
    const access = decision.access;
    if (asBot && !access.moderator)
      throw new ChatError(
        'forbidden',
        where('Only staff and the room’s moderators may post under a bot name'),
      );
    if (access.postRefusal !== null) throw new ChatError('forbidden', where(access.postRefusal));
    if (isMuted(access, Date.now())) throw new ChatError('forbidden', where(mutedText(access)));
  }
}
