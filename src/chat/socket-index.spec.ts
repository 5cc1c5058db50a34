import { ChatClient } from './chat-client';
import { FakeChatSocket } from './chat.fakes';
import { SocketIndex } from './socket-index';

let n = 0;
const client = (room: string, userId: number | null, sessionKey: string | null) =>
  new ChatClient(`c${++n}`, new FakeChatSocket(), room, 'x', userId, false, sessionKey);

describe('SocketIndex', () => {
  it("finds a user's or a session's sockets, optionally in one room, and forgets removed ones", () => {
    const index = new SocketIndex();
    const a1 = client('lobby', 1, 'k1');
    const a2 = client('games', 1, 'k1');
    const a3 = client('lobby', 1, 'k2');
    const b = client('lobby', 2, 'k3');
    const anon = client('lobby', null, null);
    for (const c of [a1, a2, a3, b, anon]) index.add(c);

    expect(index.find({ userId: 1 })).toEqual([a1, a2, a3]);
    expect(index.find({ userId: 1, room: 'lobby' })).toEqual([a1, a3]);
    expect(index.find({ sessionKey: 'k1' })).toEqual([a1, a2]);
    expect(index.find({ sessionKey: 'k1', room: 'games' })).toEqual([a2]);
    expect(index.find({ sessionKey: 'k1', userId: 2 })).toEqual([]);
    expect(index.find({ room: 'lobby' })).toEqual([]); // a room alone is RoomHub's business
    expect(index.sessionKeys().sort()).toEqual(['k1', 'k2', 'k3']);
    expect(index.hasUser(2)).toBe(true);

    index.remove(b);
    index.remove(b); // twice is harmless
    index.remove(a1);
    expect(index.hasUser(2)).toBe(false);
    expect(index.find({ sessionKey: 'k1' })).toEqual([a2]);
    expect(index.sessionKeys().sort()).toEqual(['k1', 'k2']);
  });
});
