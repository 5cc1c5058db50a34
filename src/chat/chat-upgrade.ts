import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { parse as parseCookies } from 'cookie';
import type { IncomingMessage } from 'node:http';
import { Repository } from 'typeorm';
import { INVALID_TOKEN } from '../auth/session.middleware';
import { SessionStore } from '../auth/session.store';
import { ApiTokenStore, parseAuthorization, scopesOf, TokenLogin } from '../auth/tokens/api-token.store';
import { RateWindow } from '../auth/tokens/rate-window';
import { tokenCredentialKey, TokenScope } from '../auth/tokens/scopes';
import { displayName, User } from '../auth/user.entity';
import { clientAddress } from '../common/access-log';
import { AppConfig } from '../config/app.config';
import { proxyTrust, ProxyTrust } from '../config/trust-proxy';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';
import { ChatConfig } from './chat.config';
import { ChatError } from './chat.exception';
import { ANONYMOUS_NAME, CHAT_PATH, LIVE_V1, ROOM_PATTERN } from './chat.protocol';
import type { ChatJoin } from './chat.service';
import { ChatTicketStore, TicketSource } from './chat-ticket.store';
import { SessionWatch } from './session-watch';
import { RoomPolicies } from './room-policies';

/** A refusal before the handshake: its HTTP status, the JSON body's message, and extra headers. */
export interface UpgradeRefusal {
  ok: false;
  status: number;
  message: string;
  headers?: Record<string, string>;
}

export type UpgradeVerdict = { ok: true; join: ChatJoin } | UpgradeRefusal;

interface Identity {
  userId: number | null;
  name: string;
  /**
   * What a logged-in identity came from, re-checked while the socket is open (null: anonymous): a
   * session key, or `token:<id>` for an API token (a ticket carries what it was issued from).
   */
  sessionKey: string | null;
  /** is_staff or is_superuser: moderates every room (room rules). */
  staff?: boolean;
  superuser?: boolean;
  /** false: an API token without chat:moderate (its user's moderator rights are not the token's). */
  mayModerate?: boolean;
}

/** The scope a token needs to open a socket (directly, or through a ticket it asked for). */
export const CHAT_SOCKET_SCOPE: TokenScope = 'chat:read';

function refusal(status: number, message: string, headers?: Record<string, string>): UpgradeRefusal {
  return { ok: false, status, message, ...(headers ? { headers } : {}) };
}

/** A refusal of credentials: counted against the address (API_TOKEN_FAILURES_PER_ADDRESS). */
function badCredentials(message: string): UpgradeRefusal {
  return refusal(401, message, { 'WWW-Authenticate': 'Token' });
}

function isRefusal(x: Identity | UpgradeRefusal): x is UpgradeRefusal {
  return 'ok' in x;
}

/** A session lookup other handshakes with the same cookie may share, and the end epoch it started in. */
interface SharedLookup {
  epoch: number;
  identity: Promise<Identity>;
}

const ANONYMOUS: Identity = { userId: null, name: ANONYMOUS_NAME, sessionKey: null };

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
 * the Origin (Channels' AllowedHostsOriginValidator, plus CSRF_TRUSTED_ORIGINS, plus other sites'
 * pages in CHAT_ALLOWED_ORIGINS), the query, and who is behind the credentials: an API token
 * (Authorization header), a ticket (`?ticket=`), or else the session cookie, which a page on another
 * site never gets to use (cross-site WebSocket hijacking).
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
  /** Handshakes with a bad token or ticket per address: guessing costs a database read each. */
  private readonly failures: RateWindow;
  private readonly trust: ProxyTrust;

  constructor(
    private readonly app: AppConfig,
    private readonly chat: ChatConfig,
    private readonly sessions: SessionStore,
    private readonly watch: SessionWatch,
    private readonly policies: RoomPolicies,
    private readonly tokens: ApiTokenStore,
    private readonly tickets: ChatTicketStore,
    @InjectRepository(User) private readonly users: Repository<User>,
  ) {
    this.failures = new RateWindow(app.apiTokenFailuresPerAddress);
    this.trust = proxyTrust(app.trustProxy);
  }

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
    // A page of this site may use its session cookie; one of another site in CHAT_ALLOWED_ORIGINS
    // may connect, but only a ticket or a token says who it is (its cookie is this site's visitor's).
    const origin = req.headers.origin;
    let ownSite = true;
    if (origin !== undefined && !this.originAllowed(origin)) {
      if (!this.chat.allowedOrigins.includesOrigin(origin))
        return { ok: false, status: 403, message: `Origin ${origin} is not allowed` };
      ownSite = false;
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
    const tickets = url.searchParams.getAll('ticket');
    if (tickets.length > 1) return { ok: false, status: 400, message: 'ticket must be given once' };
    const authorization = parseAuthorization(req.headers.authorization);
    if (authorization !== null && tickets.length > 0)
      return { ok: false, status: 400, message: 'Send either an Authorization token or a ticket, not both' };
    let identity: Identity;
    try {
      const found =
        authorization !== null || tickets.length > 0
          ? await this.credentialIdentity(req, room, authorization, tickets[0])
          : ownSite
            ? await this.identify(req)
            : ANONYMOUS;
      if (isRefusal(found)) return found;
      identity = found;
    } catch (err) {
      // The session cannot be read: greeting a logged-in user as anonymous would be wrong; the
      // client retries (the chat page reconnects with backoff). Anything else is a bug: a 500.
      if (!isDatabaseUnavailable(err)) throw err;
      return { ok: false, status: 503, message: `Database unavailable: ${describeDatabaseError(err)}` };
    }
    // The room's rules and sanctions (cached per room): refused as HTTP, like the checks above.
    const { staff = false, superuser = false, mayModerate, ...who } = identity;
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
        ...(mayModerate === false ? { mayModerate } : {}),
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
    const header = req.headers.cookie;
    if (!header) return ANONYMOUS;
    const key = parseCookies(header)[this.app.sessionCookieName];
    if (!key) return ANONYMOUS;
    return this.sessionIdentity(key);
  }

  private async sessionIdentity(key: string): Promise<Identity> {
    for (let attempt = 0; attempt < MAX_OVERTAKEN_LOOKUPS; attempt++) {
      const epoch = this.watch.endEpoch;
      const identity = await this.lookup(key, epoch);
      if (identity.userId === null || !this.watch.endedSince(epoch, key, identity.userId)) return identity;
    }
    return ANONYMOUS;
  }

  /**
   * Who an Authorization token or a ticket says the socket is (cookies are then ignored), or the
   * refusal: 401 for any credential that does not hold (the same `Invalid token.` whatever the
   * cause), 403 for a token without chat:read, 429 once an address made too many bad attempts.
   */
  private async credentialIdentity(
    req: IncomingMessage,
    room: string,
    authorization: { malformed: string } | { key: string } | null,
    ticket: string | undefined,
  ): Promise<Identity | UpgradeRefusal> {
    const address = clientAddress(req, this.trust) ?? 'unknown';
    const blocked = this.failures.blocked(address);
    if (blocked > 0)
      return refusal(429, 'Too many handshakes with invalid tokens or tickets', {
        'Retry-After': String(blocked),
      });
    const found =
      authorization !== null
        ? 'key' in authorization
          ? await this.tokenIdentity(() => this.tokens.authenticate(authorization.key), INVALID_TOKEN)
          : badCredentials(authorization.malformed)
        : await this.ticketIdentity(ticket ?? '', room);
    if (isRefusal(found) && found.status === 401) this.failures.hit(address);
    return found;
  }

  /**
   * A token's identity, keyed `token:<id>` so that its revocation (SessionEvents) and the re-check
   * close its sockets. A lookup that a revocation or deactivation overtook is made again.
   */
  private async tokenIdentity(
    authenticate: () => Promise<TokenLogin | null>,
    invalid: string,
  ): Promise<Identity | UpgradeRefusal> {
    for (let attempt = 0; attempt < MAX_OVERTAKEN_LOOKUPS; attempt++) {
      const epoch = this.watch.endEpoch;
      const login = await authenticate();
      this.watch.sessionRead();
      if (!login) return badCredentials(invalid);
      if (!login.token.scopes.includes(CHAT_SOCKET_SCOPE))
        return refusal(403, `This token lacks the "${CHAT_SOCKET_SCOPE}" scope`);
      const key = tokenCredentialKey(login.token.id);
      if (this.watch.endedSince(epoch, key, login.user.id)) continue;
      const { user } = login;
      return {
        userId: user.id,
        name: displayName(user),
        sessionKey: key,
        staff: user.isStaff || user.isSuperuser,
        superuser: user.isSuperuser,
        mayModerate: login.token.scopes.includes('chat:moderate'),
      };
    }
    return badCredentials(invalid);
  }

  /** A ticket is spent here; the socket is who its session or token is now. */
  private async ticketIdentity(ticket: string, room: string): Promise<Identity | UpgradeRefusal> {
    const use = await this.tickets.take(ticket, room);
    if (!use.ok) return badCredentials(use.message);
    const ended = 'The login this ticket was issued with has ended.';
    const { source } = use;
    if (source.tokenId !== null) {
      const tokenId = source.tokenId;
      const found = await this.tokenIdentity(() => this.tokenById(tokenId, source), ended);
      // The token lost chat:read since (it cannot today: scopes are fixed), as a revoked one.
      return isRefusal(found) && found.status === 403 ? badCredentials(ended) : found;
    }
    if (source.sessionKey === null) return badCredentials(ended);
    const identity = await this.sessionIdentity(source.sessionKey);
    return identity.userId === source.userId ? identity : badCredentials(ended);
  }

  /** The token a ticket was issued from, if it still holds for the same user (ApiTokenStore's rules). */
  private async tokenById(tokenId: number, source: TicketSource): Promise<TokenLogin | null> {
    const holder = (await this.tokens.holders([tokenId])).get(tokenId);
    if (holder !== source.userId) return null;
    const [token, user] = await Promise.all([
      this.tokens.get(tokenId),
      this.users.findOneBy({ id: source.userId }),
    ]);
    if (!token || !user?.isActive) return null;
    return { user, token: { id: token.id, scopes: scopesOf(token) } };
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
