import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SessionEvents, SessionsEnded } from '../auth/session-events';
import { SessionStore } from '../auth/session.store';
import { ApiTokenStore } from '../auth/tokens/api-token.store';
import { tokenCredentialKey, tokenIdOfCredentialKey } from '../auth/tokens/scopes';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';
import { MetricsService } from '../metrics/metrics.service';
import { ChatConfig } from './chat.config';
import { CLOSE } from './chat.protocol';
import { ChatService } from './chat.service';
import { SessionEndBus } from './session-end-bus';

/** How long an end is remembered for handshakes whose session lookup started before it. */
const REMEMBER_ENDS_MS = 30_000;

/**
 * Keeps the sockets of this instance true to their sessions: a socket opened with a session is
 * closed with 4001 once that session ends, on every instance, and so leaves its room and presence.
 *
 * - Ends inside live (logout, a new password, deactivation, deletion, staff's "log out everywhere")
 *   come as SessionEvents: acted on here at once and published on the SessionEndBus to the others.
 *   Ended session keys close their sockets directly; users whose sessions may have ended have
 *   their sessions re-checked at once.
 * - Ends live is not told of (a Django logout, a password changed by Django, expiry) are found by
 *   re-checking every CHAT_SESSION_RECHECK_MS the distinct sessions of the open sockets, in two
 *   queries for all of them (SessionStore.recheck: string comparisons when nothing changed).
 * - Sockets opened with an API token (or a ticket a token asked for) are keyed `token:<id>`: a
 *   revocation ends that key like a logout, and the re-check asks ApiTokenStore.holders whether
 *   each token still holds (revoked, expired, or its user deactivated: closed).
 * - When the database cannot answer the re-check, nothing is closed for CHAT_SESSION_FAIL_OPEN_MS
 *   (a blip must not disconnect every logged-in user into a reconnect storm against a recovering
 *   database); past that, logged-in sockets are closed with 4002 until their sessions can be read.
 *
 * The handshake asks `endedSince` so that a session lookup that was already under way when an end
 * arrived is not trusted (ChatUpgradeHandler looks again).
 */
@Injectable()
export class SessionWatch implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SessionWatch');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private unsubscribe: () => void = () => undefined;
  /** Since when the re-check has been failing (ms), or null. */
  private failingSince: number | null = null;
  private gaveUpLogged = false;
  /** Moves on at every end this instance hears of. */
  private epoch = 0;
  /** The epoch of each end remembered, and when it came (ms). */
  private readonly endedKeys = new Map<string, Remembered>();
  private readonly endedUsers = new Map<number, Remembered>();
  /** Ends up to this epoch were forgotten: a lookup older than that is not trusted. */
  private forgottenUpTo = 0;
  /** The last re-check's duration and size, for the log and the tests' measurements. */
  lastRecheck: { sessions: number; ms: number } | null = null;
  private lastStarted = 0;

  constructor(
    private readonly chat: ChatService,
    private readonly sessions: SessionStore,
    private readonly tokens: ApiTokenStore,
    private readonly events: SessionEvents,
    private readonly bus: SessionEndBus,
    private readonly config: ChatConfig,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.events.onEnded((ended) => {
      this.apply(ended);
      this.bus.publish(ended);
    });
    this.bus.setHandler((ended) => this.apply(ended));
    this.timer = setInterval(() => this.tick(), this.config.sessionRecheckMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.bus.close();
  }

  /** The current epoch: read it before a session lookup, give it to endedSince after. */
  get endEpoch(): number {
    return this.epoch;
  }

  /** Whether the session `key`, or the sessions of `userId`, ended after `epoch` was read. */
  endedSince(epoch: number, key: string, userId: number): boolean {
    if (epoch < this.forgottenUpTo) return true;
    return (this.endedKeys.get(key)?.epoch ?? 0) > epoch || (this.endedUsers.get(userId)?.epoch ?? 0) > epoch;
  }

  /**
   * A handshake read a session: the database answers, so a failing re-check streak is over (its
   * fail-open clock must not carry over into the next outage).
   */
  sessionRead(): void {
    this.recovered();
  }

  /** Sessions ended (here or on another instance): close what is known to be ended, re-check the rest. */
  apply(ended: SessionsEnded): void {
    if (this.stopped) return;
    const at = Date.now();
    const epoch = ++this.epoch;
    this.forget(at);
    let closed = 0;
    for (const key of ended.sessionKeys ?? []) {
      remember(this.endedKeys, key, { epoch, at });
      closed += this.chat.closeSockets({ sessionKey: key }, CLOSE.sessionEnded);
    }
    let recheck = false;
    for (const userId of ended.userIds ?? []) {
      remember(this.endedUsers, userId, { epoch, at });
      if (this.chat.sockets.hasUser(userId)) recheck = true;
    }
    if (closed > 0) this.logger.log({ event: 'session_sockets_closed', sockets: closed, cause: 'ended' });
    if (recheck) this.recheckSoon();
  }

  /**
   * The periodic re-check: skipped while one is under way, and when the last one took more than a
   * fifth of the time since it started (thousands of sessions on a slow database: the re-check
   * then comes less often rather than taking the database and the event loop over).
   */
  private tick(): void {
    if (this.running) return;
    if (this.lastRecheck && Date.now() - this.lastStarted < this.lastRecheck.ms * 5) return;
    void this.recheckSoon();
  }

  /** Starts a re-check now, or right after the one under way. */
  recheckSoon(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.recheck().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.recheckSoon();
      }
    });
    return this.running;
  }

  private async recheck(): Promise<void> {
    const keys = this.chat.sockets.sessionKeys();
    if (keys.length === 0) {
      // Nothing to check (a failing period is over too: a new logged-in socket needed a session read).
      this.failingSince = null;
      return;
    }
    const started = performance.now();
    this.lastStarted = Date.now();
    let holders: Map<string, number | null>;
    try {
      holders = await this.holders(keys);
    } catch (err) {
      this.failed(err as Error, keys.length);
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics.chatSessionRecheckSeconds.observe(seconds);
    this.lastRecheck = { sessions: keys.length, ms: seconds * 1000 };
    this.recovered();
    if (this.stopped) return;
    let closed = 0;
    for (const key of keys) {
      const holder = holders.get(key) ?? null;
      // A key belongs to one user: its sockets all hold or all go.
      if (this.chat.sockets.find({ sessionKey: key }).some((c) => c.userId !== holder))
        closed += this.chat.closeSockets({ sessionKey: key }, CLOSE.sessionEnded);
    }
    if (closed > 0) this.logger.log({ event: 'session_sockets_closed', sockets: closed, cause: 'recheck' });
  }

  /** Whose each key still is (null: ended): sessions and tokens read side by side. */
  private async holders(keys: readonly string[]): Promise<Map<string, number | null>> {
    const sessionKeys: string[] = [];
    const tokenIds: number[] = [];
    for (const key of keys) {
      const id = tokenIdOfCredentialKey(key);
      if (id === null) sessionKeys.push(key);
      else tokenIds.push(id);
    }
    const [sessions, tokens] = await Promise.all([
      this.sessions.recheck(sessionKeys),
      tokenIds.length > 0 ? this.tokens.holders(tokenIds) : new Map<number, number | null>(),
    ]);
    for (const [id, holder] of tokens) sessions.set(tokenCredentialKey(id), holder);
    return sessions;
  }

  private failed(err: Error, sessions: number): void {
    if (this.stopped) return;
    const now = Date.now();
    const reason = isDatabaseUnavailable(err) ? describeDatabaseError(err) : err.message;
    if (this.failingSince === null) {
      this.failingSince = now;
      this.logger.warn({
        event: 'session_recheck_failed',
        sessions,
        error: reason,
        failOpenMs: this.config.sessionFailOpenMs,
      });
    }
    if (now - this.failingSince < this.config.sessionFailOpenMs) return;
    let closed = 0;
    for (const key of this.chat.sockets.sessionKeys())
      closed += this.chat.closeSockets({ sessionKey: key }, CLOSE.sessionUnverified);
    if (!this.gaveUpLogged || closed > 0)
      this.logger.error({
        event: 'session_recheck_gave_up',
        sockets: closed,
        failingForMs: now - this.failingSince,
        error: reason,
      });
    this.gaveUpLogged = true;
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.logger.log({ event: 'session_recheck_recovered', failedForMs: Date.now() - this.failingSince });
    this.failingSince = null;
    this.gaveUpLogged = false;
  }

  /** Ends older than REMEMBER_ENDS_MS: no session lookup lasts that long (the database's timeouts are shorter). */
  private forget(now: number): void {
    for (const ended of [this.endedKeys, this.endedUsers] as Map<unknown, Remembered>[])
      for (const [k, v] of ended) {
        if (now - v.at < REMEMBER_ENDS_MS) break; // oldest first (see remember)
        ended.delete(k);
        this.forgottenUpTo = Math.max(this.forgottenUpTo, v.epoch);
      }
  }
}

interface Remembered {
  epoch: number;
  at: number;
}

/** Sets `key` as the newest entry, so that a map's order stays the order of the ends. */
function remember<K>(ended: Map<K, Remembered>, key: K, value: Remembered): void {
  ended.delete(key);
  ended.set(key, value);
}
