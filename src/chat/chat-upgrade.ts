import { Injectable } from '@nestjs/common';
import { parse as parseCookies } from 'cookie';
import type { IncomingMessage } from 'node:http';
import { SessionStore } from '../auth/session.store';
import { displayName } from '../auth/user.entity';
import { AppConfig } from '../config/app.config';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';
import { ChatConfig } from './chat.config';
import { ChatError } from './chat.exception';
import { ANONYMOUS_NAME, CHAT_PATH, LIVE_V1, ROOM_PATTERN } from './chat.protocol';
import type { ChatJoin } from './chat.service';
import { SessionWatch } from './session-watch';
import { RoomPolicies } from './room-policies';

export type UpgradeVerdict = { ok: true; join: ChatJoin } | { ok: false; status: number; message: string };

interface Identity {
  userId: number | null;
  name: string;
  /** The session a logged-in identity came from (null: anonymous). */
  sessionKey: string | null;
  /** is_staff or is_superuser: moderates every room (room rules). */
  staff?: boolean;
  superuser?: boolean;
}

/** A session lookup other handshakes with the same cookie may share, and the end epoch it started in. */
interface SharedLookup {
  epoch: number;
  identity: Promise<Identity>;
}

/** Lookups of one handshake that an end overtook; after that many it is taken as anonymous. */
const MAX_OVERTAKEN_LOOKUPS = 3;

const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The checks `ws` makes before accepting a handshake, made first so that a refusal carries the same
 * JSON body as every other (ws answers them in plain text).
 */
function malformedHandshake(req: IncomingMessage): string | null {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !WS_KEY.test(key.trim()))
    return 'Missing or invalid Sec-WebSocket-Key header';
  const version = req.headers['sec-websocket-version'];
  if (version !== '8' && version !== '13') return 'Sec-WebSocket-Version must be 13';
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    const offered = protocols.split(',').map((p) => p.trim());
    if (offered.some((p) => !TOKEN.test(p)) || new Set(offered).size !== offered.length)
      return 'Invalid Sec-WebSocket-Protocol header';
  }
  return null;
}

function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  return typeof header === 'string' ? header.split(',').map((p) => p.trim()) : [];
}

/**
 * Decides, before the WebSocket handshake completes, whether a socket may open: the path and room,
 * the Origin (Channels' AllowedHostsOriginValidator, plus CSRF_TRUSTED_ORIGINS), the query, and who is
 * behind the session cookie.
 */
@Injectable()
export class ChatUpgradeHandler {
  /**
   * Lookups of one session key in flight. A reconnect storm asks for the same session many times at
   * once: those share one database read. Nothing is kept after it returns, so a logout, a
   * deactivation or a new password is seen by the very next handshake, on every instance, as
   * Channels' AuthMiddleware does by reading the session on every connect. A lookup that a session
   * end overtook (it started before the end and answers a user) is neither shared nor believed:
   * the handshake looks again (see SessionWatch.endedSince).
   */
  private readonly lookups = new Map<string, SharedLookup>();

  constructor(
    private readonly app: AppConfig,
    private readonly chat: ChatConfig,
    private readonly sessions: SessionStore,
    private readonly watch: SessionWatch,
    private readonly policies: RoomPolicies,
  ) {}

  async check(req: IncomingMessage): Promise<UpgradeVerdict> {
    // Django's ALLOWED_HOSTS, as for every HTTP request: a handshake is an HTTP request too.
    if (!this.app.isAllowedHost(req.headers.host))
      return { ok: false, status: 400, message: 'Invalid Host header' };
    const malformed = malformedHandshake(req);
    if (malformed) return { ok: false, status: 400, message: malformed };
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = CHAT_PATH.exec(url.pathname);
    if (!match)
      return {
        ok: false,
        status: 404,
        message: `No WebSocket endpoint at ${url.pathname}; use /chat/<room>/`,
      };
    let room: string;
    try {
      room = decodeURIComponent(match[1]);
    } catch {
      return { ok: false, status: 400, message: 'Room name is not valid percent-encoding' };
    }
    if (!ROOM_PATTERN.test(room)) {
      return { ok: false, status: 400, message: 'Room name must be 1 to 100 letters, digits, _ or -' };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin)) {
      return { ok: false, status: 403, message: `Origin ${origin} is not allowed` };
    }
    const history = this.intParam(url, 'history', this.chat.historyMax);
    if (history === 'bad')
      return {
        ok: false,
        status: 400,
        message: `history must be an integer from 0 to ${this.chat.historyMax}`,
      };
    const since = this.intParam(url, 'since', Number.MAX_SAFE_INTEGER);
    if (since === 'bad')
      return { ok: false, status: 400, message: 'since must be a message id (a non-negative integer)' };
    let identity: Identity;
    try {
      identity = await this.identify(req);
    } catch (err) {
      // The session cannot be read: greeting a logged-in user as anonymous would be wrong; the
      // client retries (the chat page reconnects with backoff). Anything else is a bug: a 500.
      if (!isDatabaseUnavailable(err)) throw err;
      return { ok: false, status: 503, message: `Database unavailable: ${describeDatabaseError(err)}` };
    }
    // The room's rules and sanctions (cached per room): refused as HTTP, like the checks above.
    const { staff = false, superuser = false, ...who } = identity;
    let admission;
    try {
      admission = await this.policies.admit(room, { userId: who.userId, staff, superuser, groups: null });
    } catch (err) {
      if (!(err instanceof ChatError)) throw err;
      return { ok: false, status: err.status, message: err.message };
    }
    const { decision, visitor } = admission;
    if (!decision.ok) return { ok: false, status: decision.status, message: decision.message };
    return {
      ok: true,
      join: {
        room,
        ...who,
        v1: offeredProtocols(req).includes(LIVE_V1),
        history,
        since,
        access: decision.access,
        visitor,
      },
    };
  }

  /**
   * A page on a host in ALLOWED_HOSTS, as Channels allows, or on an origin CSRF_TRUSTED_ORIGINS trusts
   * (a page on www.example.org opening a socket to chat.example.org), as Django trusts its POSTs.
   */
  private originAllowed(origin: string): boolean {
    if (this.app.csrfTrustedOrigins.includesOrigin(origin)) return true;
    try {
      const host = new URL(origin).host;
      return host !== '' && this.app.isAllowedHost(host);
    } catch {
      return false;
    }
  }

  private intParam(url: URL, name: string, max: number): number | null | 'bad' {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '') return null;
    if (!/^\d{1,16}$/.test(raw)) return 'bad';
    const n = Number(raw);
    return n > max ? 'bad' : n;
  }

  private async identify(req: IncomingMessage): Promise<Identity> {
    const anonymous: Identity = { userId: null, name: ANONYMOUS_NAME, sessionKey: null };
    const header = req.headers.cookie;
    if (!header) return anonymous;
    const key = parseCookies(header)[this.app.sessionCookieName];
    if (!key) return anonymous;
    for (let attempt = 0; attempt < MAX_OVERTAKEN_LOOKUPS; attempt++) {
      const epoch = this.watch.endEpoch;
      const identity = await this.lookup(key, epoch);
      if (identity.userId === null || !this.watch.endedSince(epoch, key, identity.userId)) return identity;
    }
    return anonymous;
  }

  private lookup(key: string, epoch: number): Promise<Identity> {
    const shared = this.lookups.get(key);
    if (shared?.epoch === epoch) return shared.identity;
    const identity = this.sessions
      .userFor(key)
      .then((user): Identity => {
        this.watch.sessionRead();
        return user
          ? {
              userId: user.id,
              name: displayName(user),
              sessionKey: key,
              staff: user.isStaff || user.isSuperuser,
              superuser: user.isSuperuser,
            }
          : { userId: null, name: ANONYMOUS_NAME, sessionKey: null };
      })
      .finally(() => {
        if (this.lookups.get(key)?.identity === identity) this.lookups.delete(key);
      });
    this.lookups.set(key, { epoch, identity });
    return identity;
  }
}
