import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { version as wsVersion } from 'ws/package.json';

/** The parts of a `ws` socket the fast path relies on (private to `ws` 8; checked before each use). */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _state: number; _queue: unknown[] };
  _extensions?: Record<string, unknown>;
}

interface SenderStatic {
  frame(
    data: Buffer,
    options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean },
  ): Buffer[];
}

const sender = (WebSocket as unknown as { Sender?: SenderStatic }).Sender;
const TEXT_OPCODE = 1;

/**
 * A whole unmasked text frame (header + payload) built once per broadcast. `ws` would build the
 * header again for every socket and write header and payload separately; a room of N sockets
 * then costs N writes of the same bytes and nothing else (about 20 % less CPU in the fan-out).
 */
export function preframeText(payload: Buffer): Buffer | null {
  if (!sender || typeof sender.frame !== 'function') return null;
  return Buffer.concat(
    sender.frame(payload, { fin: true, rsv1: false, opcode: TEXT_OPCODE, mask: false, readOnly: false }),
  );
}

/**
 * Writes the pre-built frame straight to the socket when `ws` has nothing queued for it and no
 * compression is negotiated (live's server disables permessage-deflate), otherwise sends the
 * payload the ordinary way. Either way the peer receives the same bytes.
 */
export function sendPreframed(ws: WebSocket, framed: Buffer | null, payload: Buffer): void {
  const internals = ws as unknown as WsInternals;
  const socket = internals._socket;
  const queue = internals._sender;
  if (
    framed &&
    socket?.writable &&
    queue &&
    queue._state === 0 &&
    queue._queue.length === 0 &&
    !internals._extensions?.['permessage-deflate']
  ) {
    socket.write(framed);
  } else {
    ws.send(payload, { binary: false });
  }
}

/**
 * Coalesces a turn's writes per socket. In a quiet turn the first write to a socket goes out at
 * once (a lone message pays no deferral: at low rates that deferral showed in p99); a second write
 * in the same turn corks the socket, and one setImmediate uncorks every corked socket after all of
 * the turn's I/O callbacks ran. A socket that got k messages in one turn then costs two writes
 * instead of k, which is where a busy room spends its time (the profile is dominated by the write
 * syscalls).
 *
 * After a busy turn (some socket got more than one write) the next turn holds first writes too, so
 * such a socket costs one write per turn, not two: under load that halves the syscalls, for both
 * sides of the socket, and the deferral is bounded by the turn. The first quiet turn (no socket
 * written twice) ends it.
 */
export class WriteCoalescer {
  private readonly touched = new Set<Socket>();
  private readonly corked: Socket[] = [];
  /** Writes in this turn to a socket already written in it. */
  private repeats = 0;
  /** The last turn was busy: first writes are held as well. */
  private busy = false;
  private readonly flush = () => {
    for (const socket of this.corked) socket.uncork();
    this.corked.length = 0;
    this.touched.clear();
    this.busy = this.repeats > 0;
    this.repeats = 0;
  };

  /** Uncorks every held socket now (shutdown: the close frames must leave before sockets are cut). */
  flushNow(): void {
    this.flush();
  }

  /** Call before writing to the socket of `ws` (raw or through ws.send: both go through the socket). */
  hold(ws: WebSocket): void {
    const socket = (ws as unknown as WsInternals)._socket;
    if (!socket) return;
    if (!this.touched.has(socket)) {
      if (this.touched.size === 0) setImmediate(this.flush);
      this.touched.add(socket);
      if (!this.busy) return;
    } else {
      this.repeats++;
    }
    if (socket.writableCorked > 0) return;
    socket.cork();
    this.corked.push(socket);
  }
}

/** Whether broadcasts take the fast path with the installed `ws`, and if not, what is missing. */
export interface FastPathReport {
  active: boolean;
  wsVersion: string;
  /** Empty when active. */
  missing: string[];
}

/** The `ws` internals sendPreframed relies on that `ws` (an open socket) lacks. */
export function missingInternals(ws: WebSocket): string[] {
  const internals = ws as unknown as WsInternals;
  const missing: string[] = [];
  if (typeof sender?.frame !== 'function') missing.push('WebSocket.Sender.frame');
  if (typeof internals._socket?.write !== 'function') missing.push('_socket');
  if (typeof internals._sender?._state !== 'number' || !Array.isArray(internals._sender._queue))
    missing.push('_sender._state/_queue');
  if (typeof internals._extensions !== 'object' || internals._extensions === null)
    missing.push('_extensions');
  return missing;
}

/**
 * Tries the fast path on a real `ws` socket over an in-memory stream: the internals are there, an
 * idle socket gets the raw write (not sendPreframed's ws.send fallback, which would hide a change
 * in `ws` behind identical output), and the bytes are the ones ws.send writes.
 */
export function describeFastPath(): FastPathReport {
  const written: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk);
      done();
    },
  });
  const missing: string[] = [];
  try {
    // As WebSocketServer.completeUpgrade makes its sockets (neither call is in ws's typings).
    const ServerSocket = WebSocket as unknown as new (
      address: null,
      protocols: undefined,
      options: object,
    ) => WebSocket & {
      setSocket(socket: Duplex, head: Buffer, options: object): void;
    };
    const probe = new ServerSocket(null, undefined, {});
    probe.setSocket(stream, Buffer.alloc(0), {});
    missing.push(...missingInternals(probe));
    if (missing.length === 0) {
      const payload = Buffer.from('fast path probe ☃');
      probe.send(payload, { binary: false });
      const viaSend = Buffer.concat(written.splice(0));
      const send = probe.send;
      let fellBack = false;
      probe.send = () => (fellBack = true);
      sendPreframed(probe, preframeText(payload), payload);
      probe.send = send;
      if (fellBack) missing.push('an idle _sender (_state 0, empty _queue)');
      else if (!Buffer.concat(written).equals(viaSend)) missing.push('frames identical to ws.send');
    }
  } catch (err) {
    missing.push(`a socket set up as WebSocketServer does (${(err as Error).message})`);
  } finally {
    stream.destroy();
  }
  return { active: missing.length === 0, wsVersion, missing };
}
