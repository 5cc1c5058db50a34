/**
 * What the chat uses of a `ws` WebSocket, and all a unit test has to fake. The broadcast fast path
 * (raw-frame.ts) also reads a few `ws` internals; a socket without them (a fake) is written to with
 * ordinary `send` calls instead, so the same code runs in tests.
 */
export interface ChatSocket {
  /** The `ws` constants: 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes accepted by `send` that the peer has not taken yet. */
  readonly bufferedAmount: number;
  send(data: string | Buffer, options?: { binary?: boolean }): void;
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'pong', listener: () => void): unknown;
  on(event: 'close', listener: (code: number) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}
