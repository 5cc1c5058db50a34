import { Logger } from '@nestjs/common';
import { SessionEvents, SessionsEnded } from '../auth/session-events';
import type { SessionStore } from '../auth/session.store';
import type { ApiTokenStore } from '../auth/tokens/api-token.store';
import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatConfig } from './chat.config';
import { FakeChatSocket } from './chat.fakes';
import { ChatService } from './chat.service';
import type { HistoryService } from './history.service';
import type { InstanceSlot } from './instance-slot';
import { InMemoryPresence } from './presence';
import { SessionEndBus, SessionsEndedHandler } from './session-end-bus';
import { SessionWatch } from './session-watch';

/** A bus that records what this instance published and lets a test deliver another instance's ends. */
class RecordingBus extends SessionEndBus {
  readonly published: SessionsEnded[] = [];
  handler: SessionsEndedHandler = () => undefined;
  closed = false;
  publish(ended: SessionsEnded): void {
    this.published.push(ended);
  }
  setHandler(handler: SessionsEndedHandler): void {
    this.handler = handler;
  }
  override async close(): Promise<void> {
    this.closed = true;
  }
}

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);
const KEY_C = 'c'.repeat(32);

describe('SessionWatch', () => {
  let chat: ChatService;
  let presence: InMemoryPresence;
  let events: SessionEvents;
  let bus: RecordingBus;
  let watch: SessionWatch;
  /** What the fake SessionStore.recheck answers: key → user id, or null; or a failure. */
  let holders: Record<string, number | null>;
  let failure: Error | null;
  let rechecks: string[][];
  /** What the fake ApiTokenStore.holders answers: token id → user id, or null. */
  let tokenHolders: Record<number, number | null>;
  let tokenChecks: number[][];

  const connect = (room: string, userId: number | null, sessionKey: string | null, v1 = false) => {
    const ws = new FakeChatSocket();
    const name = userId === null ? 'Anonymous troll' : `user ${userId}`;
    chat.connect(ws, { room, name, userId, v1, history: 0, since: null, sessionKey });
    return ws;
  };
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  const start = async (env: Record<string, string> = {}) => {
    const config = new ChatConfig({
      CHAT_SESSION_RECHECK_MS: '100',
      CHAT_SESSION_FAIL_OPEN_MS: '1000',
      ...env,
    });
    const history = { recent: async () => [], append: () => undefined } as unknown as HistoryService;
    const slot = { acquire: async (onChange: (n: number) => void) => (onChange(1), 1) };
    presence = new InMemoryPresence();
    chat = new ChatService(
      config,
      new InMemoryChannelLayer(),
      presence,
      history,
      slot as unknown as InstanceSlot,
      new MetricsService(),
    );
    await chat.onModuleInit();
    const sessions = {
      recheck: async (keys: string[]) => {
        rechecks.push([...keys].sort());
        if (failure) throw failure;
        return new Map(keys.map((k) => [k, holders[k] ?? null]));
      },
    } as unknown as SessionStore;
    const tokens = {
      holders: async (ids: number[]) => {
        tokenChecks.push([...ids].sort());
        if (failure) throw failure;
        return new Map(ids.map((id) => [id, tokenHolders[id] ?? null]));
      },
    } as unknown as ApiTokenStore;
    events = new SessionEvents();
    bus = new RecordingBus();
    watch = new SessionWatch(chat, sessions, tokens, events, bus, config, new MetricsService());
    watch.onModuleInit();
  };

  beforeEach(() => {
    jest.useFakeTimers();
    jest.spyOn(Logger.prototype, 'log').mockImplementation();
    jest.spyOn(Logger.prototype, 'warn').mockImplementation();
    jest.spyOn(Logger.prototype, 'error').mockImplementation();
    holders = { [KEY_A]: 1, [KEY_B]: 2, [KEY_C]: 1 };
    failure = null;
    rechecks = [];
    tokenHolders = { 7: 1, 8: 2 };
    tokenChecks = [];
  });
  afterEach(async () => {
    await watch.onModuleDestroy();
    await chat.onModuleDestroy();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('a session ended inside live: its sockets close with 4001 at once, leave presence, and the others are told', async () => {
    await start();
    const a1 = connect('lobby', 1, KEY_A, true);
    const a2 = connect('other', 1, KEY_A);
    const c = connect('lobby', 1, KEY_C); // the same user, another session
    const anon = connect('lobby', null, null);
    await settle();
    expect(await presence.members('lobby')).toHaveLength(3);
    events.ended({ sessionKeys: [KEY_A] });
    expect(a1.closedWith).toEqual({ code: 4001, reason: 'session ended' });
    expect(a2.closedWith).toEqual({ code: 4001, reason: 'session ended' });
    expect(c.closedWith).toBeNull();
    expect(anon.closedWith).toBeNull();
    await settle();
    expect((await presence.members('lobby')).sort()).toEqual(['Anonymous troll', 'user 1']);
    expect(bus.published).toEqual([{ sessionKeys: [KEY_A] }]);
    expect(rechecks).toEqual([]); // nothing to look up: the key is known to be gone
  });

  it("another instance's end arrives on the bus: applied here, not published again", async () => {
    await start();
    const b = connect('lobby', 2, KEY_B);
    bus.handler({ sessionKeys: [KEY_B] });
    expect(b.closedWith?.code).toBe(4001);
    expect(bus.published).toEqual([]);
  });

  it("a user's sessions may have ended (new password, deactivation): re-checked at once, only what no longer holds closes", async () => {
    await start();
    const a = connect('lobby', 1, KEY_A);
    const c = connect('lobby', 1, KEY_C);
    const b = connect('lobby', 2, KEY_B);
    holders[KEY_A] = null; // that session no longer verifies; KEY_C was made after the new password
    events.ended({ userIds: [1] });
    await settle();
    expect(rechecks).toEqual([[KEY_A, KEY_B, KEY_C]]);
    expect(a.closedWith?.code).toBe(4001);
    expect(c.closedWith).toBeNull();
    expect(b.closedWith).toBeNull();
  });

  it('an end for a user with no socket here costs no query', async () => {
    await start();
    connect('lobby', 2, KEY_B);
    events.ended({ userIds: [7] });
    await settle();
    expect(rechecks).toEqual([]);
  });

  it('the periodic re-check finds what live was not told (a Django logout, expiry) and reads nothing without logged-in sockets', async () => {
    await start();
    connect('lobby', null, null);
    await jest.advanceTimersByTimeAsync(350);
    expect(rechecks).toEqual([]); // anonymous sockets have no session to check
    const a = connect('lobby', 1, KEY_A);
    const b = connect('lobby', 2, KEY_B);
    await jest.advanceTimersByTimeAsync(100);
    expect(rechecks).toEqual([[KEY_A, KEY_B]]);
    expect(a.closedWith).toBeNull();
    delete holders[KEY_B];
    await jest.advanceTimersByTimeAsync(100);
    expect(b.closedWith).toEqual({ code: 4001, reason: 'session ended' });
    expect(a.closedWith).toBeNull();
    await jest.advanceTimersByTimeAsync(100);
    expect(rechecks.at(-1)).toEqual([KEY_A]); // the closed socket's session is no longer read
  });

  it('a session now claiming another user (never expected) closes its sockets too', async () => {
    await start();
    const a = connect('lobby', 1, KEY_A);
    holders[KEY_A] = 99;
    await jest.advanceTimersByTimeAsync(100);
    expect(a.closedWith?.code).toBe(4001);
  });

  it('database unreachable: fails open for CHAT_SESSION_FAIL_OPEN_MS, then closes logged-in sockets with 4002; recovery resets the clock', async () => {
    await start();
    const a = connect('lobby', 1, KEY_A);
    const anon = connect('lobby', null, null);
    failure = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    await jest.advanceTimersByTimeAsync(900);
    expect(a.closedWith).toBeNull(); // 800 ms of failures: still open
    failure = null;
    await jest.advanceTimersByTimeAsync(100); // one answer: the clock starts over
    failure = new Error('Connection terminated unexpectedly');
    await jest.advanceTimersByTimeAsync(900);
    expect(a.closedWith).toBeNull();
    await jest.advanceTimersByTimeAsync(300);
    expect(a.closedWith).toEqual({ code: 4002, reason: 'session could not be checked' });
    expect(anon.closedWith).toBeNull();
  });

  it('a session read by a handshake ends a failing streak: the fail-open clock starts over at the next failure', async () => {
    await start();
    const a = connect('lobby', 1, KEY_A);
    failure = new Error('Connection terminated unexpectedly');
    await jest.advanceTimersByTimeAsync(900);
    watch.sessionRead(); // the database answered a handshake meanwhile
    await jest.advanceTimersByTimeAsync(900);
    expect(a.closedWith).toBeNull(); // 1800 ms of failures, but not in one streak
    await jest.advanceTimersByTimeAsync(300);
    expect(a.closedWith?.code).toBe(4002);
  });

  it('endedSince: a lookup that started before an end of its key or user is not trusted', async () => {
    await start();
    const before = watch.endEpoch;
    events.ended({ sessionKeys: [KEY_A] });
    expect(watch.endedSince(before, KEY_A, 1)).toBe(true);
    expect(watch.endedSince(before, KEY_B, 2)).toBe(false);
    const mid = watch.endEpoch;
    events.ended({ userIds: [2] });
    expect(watch.endedSince(mid, KEY_B, 2)).toBe(true);
    expect(watch.endedSince(mid, KEY_A, 1)).toBe(false); // its end came before the lookup started
    expect(watch.endedSince(watch.endEpoch, KEY_B, 2)).toBe(false);
  });

  it('ends are forgotten after 30 s; a lookup older than what was forgotten is not trusted', async () => {
    await start();
    const old = watch.endEpoch;
    events.ended({ sessionKeys: [KEY_A] });
    const later = watch.endEpoch;
    await jest.advanceTimersByTimeAsync(31_000);
    events.ended({ sessionKeys: [KEY_B] }); // forgets the first
    expect(watch.endedSince(later, KEY_A, 1)).toBe(false);
    expect(watch.endedSince(old, KEY_C, 3)).toBe(true);
  });

  it('stops on shutdown: no more re-checks, the bus is closed', async () => {
    await start();
    connect('lobby', 1, KEY_A);
    await watch.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(500);
    expect(rechecks).toEqual([]);
    expect(bus.closed).toBe(true);
  });

  it('token sockets (token:<id>): a revocation closes them at once; the re-check asks the token store, deactivation included', async () => {
    await start();
    const t7 = connect('lobby', 1, 'token:7', true);
    const t7b = connect('other', 1, 'token:7');
    const t8 = connect('lobby', 2, 'token:8');
    const a = connect('lobby', 1, KEY_A);
    await settle();
    // ApiTokenStore.revoke emits this: every socket of that token, and only those.
    events.ended({ sessionKeys: ['token:7'] });
    expect(t7.closedWith).toEqual({ code: 4001, reason: 'session ended' });
    expect(t7b.closedWith).toEqual({ code: 4001, reason: 'session ended' });
    expect(t8.closedWith).toBeNull();
    expect(bus.published).toEqual([{ sessionKeys: ['token:7'] }]);
    // User 2 deactivated: the re-check runs at once, sessions and tokens side by side.
    tokenHolders[8] = null;
    events.ended({ userIds: [2] });
    await jest.advanceTimersByTimeAsync(0);
    expect(rechecks.at(-1)).toEqual([KEY_A]); // the session store never sees token keys
    expect(tokenChecks.at(-1)).toEqual([8]);
    expect(t8.closedWith).toEqual({ code: 4001, reason: 'session ended' });
    expect(a.closedWith).toBeNull();
  });

  it('the periodic re-check closes a token socket whose token expired or changed hands, never with a session query for it', async () => {
    await start();
    const t7 = connect('lobby', 1, 'token:7');
    await settle();
    await jest.advanceTimersByTimeAsync(150);
    expect(t7.closedWith).toBeNull();
    expect(tokenChecks.at(-1)).toEqual([7]);
    expect(rechecks.at(-1)).toEqual([]);
    delete tokenHolders[7]; // expired: holders answers null
    await jest.advanceTimersByTimeAsync(150);
    expect(t7.closedWith).toEqual({ code: 4001, reason: 'session ended' });
  });

  it('database unreachable: token sockets fail open like session sockets, then close with 4002', async () => {
    await start();
    const t7 = connect('lobby', 1, 'token:7');
    await settle();
    failure = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    await jest.advanceTimersByTimeAsync(500);
    expect(t7.closedWith).toBeNull();
    await jest.advanceTimersByTimeAsync(1000);
    expect(t7.closedWith).toEqual({ code: 4002, reason: 'session could not be checked' });
  });
});
