/** Test doubles for the chat pieces' unit specs (nothing in the app imports this file). */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { ChatClient } from './chat-client';
import type { ChatLog } from './chat-log';
import type { ChatSocket } from './chat-socket';

/** A frame as a live.v1 client reads it. */
export interface V1Frame {
  type: string;
  code?: string;
  message?: string;
  id?: number;
  text?: string;
  name?: string;
  messages?: { id: number; text: string }[];
  members?: string[];
  count?: number;
  truncated?: boolean;
}

/**
 * A ChatSocket for unit tests: records what is sent and how it is closed; no TCP socket behind it,
 * so the fan-out writes to it with send(). `answersClose: false` is a peer that never takes the
 * close frame: the socket stays closing until it is terminated.
 */
export class FakeChatSocket extends EventEmitter implements ChatSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  /** Everything sent, as given (a shared fan-out buffer keeps its identity). */
  readonly sent: (string | Buffer)[] = [];
  closedWith: { code: number; reason: string } | null = null;
  pings = 0;
  terminated = false;

  constructor(private readonly options: { answersClose?: boolean } = {}) {
    super();
  }

  send(data: string | Buffer): void {
    if (this.readyState === WebSocket.OPEN) this.sent.push(data);
  }

  close(code: number, reason: string): void {
    if (this.readyState !== WebSocket.OPEN) return;
    this.closedWith = { code, reason };
    this.readyState = WebSocket.CLOSING;
    if (this.options.answersClose !== false) this.closed(code);
  }

  terminate(): void {
    this.terminated = true;
    if (this.readyState !== WebSocket.CLOSED) this.closed(1006);
  }

  ping(): void {
    this.pings++;
  }

  /** A frame from the peer. */
  receive(data: string | Buffer, isBinary = false): void {
    this.emit('message', Buffer.from(data), isBinary);
  }

  /** The peer went away (as a dropped connection): 1006. */
  drop(): void {
    this.closed(1006);
  }

  texts(): string[] {
    return this.sent.map((d) => d.toString());
  }

  /** What a live.v1 client received, parsed. */
  frames(): V1Frame[] {
    return this.texts().map((t) => JSON.parse(t) as V1Frame);
  }

  private closed(code: number): void {
    this.readyState = WebSocket.CLOSED;
    this.emit('close', code);
  }
}

let clientCount = 0;

/** A room member on a fresh FakeChatSocket. */
export function fakeClient(
  room: string,
  v1: boolean,
  name = `user${++clientCount}`,
  ws = new FakeChatSocket(),
): ChatClient & { ws: FakeChatSocket } {
  return new ChatClient(`c${++clientCount}`, ws, room, name, null, v1) as ChatClient & { ws: FakeChatSocket };
}

/** A logger that keeps what it is given. */
export class RecordingLog implements ChatLog {
  readonly entries: { level: 'warn' | 'error'; fields: Record<string, unknown> }[] = [];
  warn(fields: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', fields });
  }
  error(fields: Record<string, unknown>): void {
    this.entries.push({ level: 'error', fields });
  }
  events(): unknown[] {
    return this.entries.map((e) => e.fields.event);
  }
}
