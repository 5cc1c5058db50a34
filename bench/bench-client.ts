/**
 * What the one-process load generator (load.ts) and scenario (e)'s workers (scale-worker.ts) say
 * and read the same way: the chat URL of a room, the framing of each protocol, and the bench
 * message `B<room>:<sender>:<seq>:<sent µs>` inside what the server echoes (`<name> B…`).
 */
import WebSocket from 'ws';

export type BenchProtocol = 'plain' | 'socketio';

/** The room's URL: live's (and the raw server's) `/chat/<room>/`, or Socket.IO's handshake with the room in the query. */
export function chatUrl(base: string, room: string, protocol: BenchProtocol = 'plain'): string {
  const root = base.replace(/\/+$/, '');
  return protocol === 'socketio'
    ? `${root}/socket.io/?EIO=4&transport=websocket&room=${room}`
    : `${root}/chat/${room}/`;
}

export interface Framing {
  send(text: string): void;
  /**
   * The chat text a frame carries; null for a protocol frame already answered (Socket.IO's open,
   * connect and ping); undefined for anything else.
   */
  decode(data: Buffer): string | null | undefined;
}

/** Chosen once per socket, so the plain path costs nothing extra per message. */
export function framing(ws: WebSocket, protocol: BenchProtocol = 'plain'): Framing {
  if (protocol !== 'socketio')
    return { send: (text) => ws.send(text), decode: (data) => data.toString('utf8') };
  return {
    send: (text) => ws.send('42' + JSON.stringify(['message', text])),
    decode(data) {
      // Engine.IO packet type, then Socket.IO packet type: only `42` (an event) is parsed.
      const frame = data.toString('utf8');
      const engine = frame.charCodeAt(0);
      if (engine === 0x34 /* 4 message */) {
        const kind = frame.charCodeAt(1);
        if (kind === 0x32 /* 2 event */) {
          const event = JSON.parse(frame.slice(2)) as unknown;
          if (Array.isArray(event) && event[0] === 'message' && typeof event[1] === 'string') return event[1];
        } else if (kind === 0x30 /* 0 connected */) return null;
      } else if (engine === 0x32 /* 2 ping */) {
        ws.send('3');
        return null;
      } else if (engine === 0x30 /* 0 open */) {
        ws.send('40');
        return null;
      }
      return undefined;
    },
  };
}

const MESSAGE = /^B(\d+):(\d+):(\d+):(\d+)$/;

/** The bench message in an echoed text: [, room, sender, seq, sent µs], or null for any other text. */
export function matchBenchText(text: string): RegExpExecArray | null {
  const at = text.indexOf('> B');
  return at >= 0 ? MESSAGE.exec(text.slice(at + 2)) : null;
}

/** One load-generator socket: its room, its part as a sender, what it has seen. */
export interface BenchClient {
  ws: WebSocket;
  /** Sends one chat text in the target's framing (chosen once, when the client is created). */
  send: (text: string) => void;
  room: number;
  /** Index among the room's senders, or -1. */
  sender: number;
  welcomed: boolean;
  /** One count per (sender, seq) of this room. */
  seen: Uint8Array;
  nextSeq: number;
  inFlight: number;
}

export interface BenchSocketOptions {
  url: string;
  protocol?: BenchProtocol;
  headers?: Record<string, string>;
  localAddress?: string;
  timeoutMs: number;
  room: number;
  sender: number;
  /** Senders × messages of the room: the size of `seen`. */
  slots: number;
}

export interface BenchSocketEvents {
  /** Every chat text, the welcome first (the client is `welcomed` once this has handled it). */
  onText(c: BenchClient, text: string): void;
  /** A frame that is neither a chat text nor a protocol frame already answered. */
  onOther(): void;
  onClose(code: number): void;
}

/** Opens a socket and resolves once the server has welcomed it; rejects saying why it was not. */
export function openBenchSocket(o: BenchSocketOptions, on: BenchSocketEvents): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(o.url, {
      headers: o.headers,
      perMessageDeflate: false,
      handshakeTimeout: o.timeoutMs,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    const frames = framing(ws, o.protocol);
    const c: BenchClient = {
      ws,
      send: frames.send,
      room: o.room,
      sender: o.sender,
      welcomed: false,
      seen: new Uint8Array(o.slots),
      nextSeq: 0,
      inFlight: 0,
    };
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no welcome within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    ws.on('message', (data: Buffer) => {
      const text = frames.decode(data);
      if (text === null) return;
      if (text === undefined) {
        on.onOther();
        return;
      }
      const first = !c.welcomed;
      on.onText(c, text);
      if (first) {
        clearTimeout(timer);
        resolve(c);
      }
    });
    ws.on('close', (code: number) => {
      clearTimeout(timer);
      on.onClose(code);
      if (!c.welcomed) reject(new Error(`closed before the welcome (code ${code})`));
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`HTTP ${res.statusCode} on upgrade`));
    });
    ws.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
