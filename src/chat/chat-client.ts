import type WebSocket from 'ws';
import { ChatMessage } from './chat.protocol';

/** One open chat socket and what the server tracks about it. */
export class ChatClient {
  /** Until the join history is sent, live messages wait here, so nothing is missed or repeated. */
  ready = true;
  pending: ChatMessage[] = [];
  /** Highest message id sent to this client. */
  lastSentId = 0;
  alive = true;
  tokens: number;
  lastRefill: number;
  strikes = 0;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly room: string,
    readonly name: string,
    readonly userId: number | null,
    /** Speaks the JSON `live.v1` subprotocol (else the seed's plain text). */
    readonly v1: boolean,
    burst: number,
  ) {
    this.tokens = burst;
    this.lastRefill = Date.now();
  }
}

/**
 * Token bucket: `rate` per second, up to `burst`. Returns 'ok', 'drop' (over the limit) or 'close'
 * (over the limit `strikes` times in a row: the socket keeps flooding).
 */
export function takeToken(
  client: ChatClient,
  rate: number,
  burst: number,
  strikes: number,
  now = Date.now(),
): 'ok' | 'drop' | 'close' {
  client.tokens = Math.min(burst, client.tokens + ((now - client.lastRefill) * rate) / 1000);
  client.lastRefill = now;
  if (client.tokens >= 1) {
    client.tokens -= 1;
    client.strikes = 0;
    return 'ok';
  }
  client.strikes++;
  return client.strikes >= strikes ? 'close' : 'drop';
}
