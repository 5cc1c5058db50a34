/**
 * What the one-process load generator (load.ts) and scenario (e)'s workers (scale-worker.ts) say
 * and read the same way: the chat URL of a room, the framing of each protocol, and the bench
 * message `B<room>:<sender>:<seq>:<sent µs>` inside what the server echoes (`<name> B…`).
 */
import type WebSocket from 'ws';

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
