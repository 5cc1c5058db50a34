import { ChatMessage } from './chat.protocol';
import type { ChatSocket } from './chat-socket';

/** What the upgrade handler learned about a socket before accepting it. */
export interface ChatJoin {
  room: string;
  name: string;
  userId: number | null;
  v1: boolean;
  /** History to send on join: live.v1 clients get the default unless they ask; plain clients only if asked. */
  history: number | null;
  since: number | null;
}

/** One open chat socket as its room sees it: what the fan-out, the join replay and the ping read. */
export class ChatClient {
  /** Until the join history is sent, live messages wait here, so nothing is missed or repeated. */
  ready = true;
  pending: ChatMessage[] = [];
  /** Highest message id sent to this client. */
  lastSentId = 0;
  /** Answered the last ping. */
  alive = true;

  constructor(
    readonly id: string,
    readonly ws: ChatSocket,
    readonly room: string,
    readonly name: string,
    readonly userId: number | null,
    /** Speaks the JSON `live.v1` subprotocol (else the seed's plain text). */
    readonly v1: boolean,
  ) {}
}
