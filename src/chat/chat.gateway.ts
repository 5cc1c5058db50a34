import { OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type WebSocket from 'ws';
import { CHAT_JOIN, UpgradedRequest } from './chat-ws.adapter';
import { ChatService } from './chat.service';

/** Transport only: hands every accepted `/chat/<room>/` socket to the chat service. */
@WebSocketGateway()
export class ChatGateway implements OnGatewayConnection {
  constructor(private readonly chat: ChatService) {}

  handleConnection(ws: WebSocket, req: UpgradedRequest): void {
    const join = req[CHAT_JOIN];
    if (!join) {
      ws.close(1011, 'connection was not routed');
      return;
    }
    this.chat.connect(ws, join);
  }
}
