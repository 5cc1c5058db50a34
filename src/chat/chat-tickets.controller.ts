import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { LiveRequest } from '../auth/auth.types';
import { AuthenticatedGuard } from '../auth/guards';
import { TokenScope } from '../auth/tokens/scopes';
import { ApiErrors } from '../common/openapi';
import { IssueTicketDto, TicketDto } from './chat-tickets.dto';
import { ChatTicketStore } from './chat-ticket.store';
import { CHAT_SOCKET_SCOPE } from './chat-upgrade';

@ApiTags('chat')
@Controller('chat/tickets')
export class ChatTicketsController {
  constructor(private readonly tickets: ChatTicketStore) {}

  @Post()
  @HttpCode(201)
  @UseGuards(AuthenticatedGuard)
  @TokenScope(CHAT_SOCKET_SCOPE)
  @ApiOperation({
    summary:
      'A single-use ticket (30 s) that opens a socket to one room as the caller, for pages that cannot send the cookie',
  })
  @ApiCreatedResponse({ type: TicketDto })
  @ApiErrors(400, 401, 403, 503)
  async issue(@Req() req: LiveRequest, @Body() body: IssueTicketDto): Promise<TicketDto> {
    // AuthenticatedGuard: a user, from a token or from the session cookie (CSRF checked).
    const user = req.currentUser!;
    const { ticket, expiresAt } = await this.tickets.issue(body.room, {
      userId: user.id,
      tokenId: req.apiToken?.id ?? null,
      sessionKey: req.apiToken ? null : (req.sessionKey ?? null),
    });
    return {
      ticket,
      room: body.room,
      expiresAt: expiresAt.toISOString(),
      path: `/chat/${encodeURIComponent(body.room)}/?ticket=${ticket}`,
    };
  }
}
