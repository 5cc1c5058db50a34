import { ChatMessage } from './chat.protocol';
import type { ChatSocket } from './chat-socket';
import { ANONYMOUS_VISITOR, OPEN_ACCESS, RoomAccess, Visitor } from './room-rules';

/** What the upgrade handler learned about a socket before accepting it. */
export interface ChatJoin {
  room: string;
  name: string;
  userId: number | null;
  v1: boolean;
  /** History to send on join: live.v1 clients get the default unless they ask; plain clients only if asked. */
  history: number | null;
  since: number | null;
  /** The session a logged-in socket was opened with (re-checked while it is open); absent: anonymous. */
  sessionKey?: string | null;
  /** What the room's rules let this socket do (absent: a room without rules, as before them). */
  access?: RoomAccess;
  /** Who it is as the rules see them (staff, groups), to decide again when the rules change. */
  visitor?: Visitor;
  /** false: opened with an API token without chat:moderate, so no moderation commands (absent: true). */
  mayModerate?: boolean;
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
  /** What the room's rules let it do: read per posted frame (two fields), never by the fan-out. */
  access: RoomAccess = OPEN_ACCESS;
  visitor: Visitor = ANONYMOUS_VISITOR;
  /** false for a socket of an API token without chat:moderate: the user's moderator rights stay with the user. */
  mayModerate = true;

  constructor(
    readonly id: string,
    readonly ws: ChatSocket,
    readonly room: string,
    readonly name: string,
    readonly userId: number | null,
    /** Speaks the JSON `live.v1` subprotocol (else the seed's plain text). */
    readonly v1: boolean,
    /** The session it was opened with, when logged in: it is closed when that session ends. */
    readonly sessionKey: string | null = null,
  ) {}
}
