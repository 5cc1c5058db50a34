import WebSocket from 'ws';
import { MetricsService } from '../metrics/metrics.service';
import { InMemoryChannelLayer } from './channel-layer';
import { ChatMessage } from './chat.protocol';
import { fakeClient, RecordingLog } from './chat.fakes';
import { RoomHub } from './room-hub';
import { SlowConsumerGuard } from './slow-consumer';

const message = (id: number, text: string, room = 'lobby'): ChatMessage => ({
  id,
  room,
  user: null,
  name: 'Speaker',
  text,
  ts: '2026-01-01T00:00:00.000Z',
});

describe('RoomHub', () => {
  let layer: InMemoryChannelLayer;
  let log: RecordingLog;
  let hub: RoomHub;

  beforeEach(() => {
    layer = new InMemoryChannelLayer();
    log = new RecordingLog();
    hub = new RoomHub(layer, new SlowConsumerGuard(1024, log), new MetricsService(), log);
  });

  describe('membership', () => {
    it('subscribes to a room with its first member and lets go of it with its last', async () => {
      const add = jest.spyOn(layer, 'groupAdd');
      const discard = jest.spyOn(layer, 'groupDiscard');
      const a = fakeClient('lobby', true);
      const b = fakeClient('lobby', false);
      const c = fakeClient('other', true);
      hub.join(a);
      hub.join(b);
      hub.join(c);
      expect(add.mock.calls).toEqual([['lobby'], ['other']]);
      expect(hub.socketCount).toBe(3);
      expect(hub.localRooms()).toEqual([
        { room: 'lobby', members: 2 },
        { room: 'other', members: 1 },
      ]);
      expect([...(hub.members('lobby') ?? [])]).toEqual([a, b]);

      expect(hub.leave(a)).toBe(true);
      expect(hub.leave(a)).toBe(false); // not a member any more
      expect(discard).not.toHaveBeenCalled();
      expect(hub.leave(b)).toBe(true);
      expect(discard.mock.calls).toEqual([['lobby']]);
      expect(hub.members('lobby')).toBeUndefined();
      expect(hub.clients()).toEqual([c]);
    });

    it('after stop(), an emptied room keeps its subscription (the layer is closed next)', () => {
      const discard = jest.spyOn(layer, 'groupDiscard');
      const a = fakeClient('lobby', true);
      hub.join(a);
      hub.stop();
      expect(hub.leave(a)).toBe(true);
      expect(discard).not.toHaveBeenCalled();
    });

    it('subscribed(room) settles when the layer receives the room, even if subscribing failed', async () => {
      let finish!: () => void;
      jest.spyOn(layer, 'groupAdd').mockReturnValueOnce(new Promise<void>((r) => (finish = r)));
      hub.join(fakeClient('slow-sub', true));
      let settled = false;
      void hub.subscribed('slow-sub').then(() => (settled = true));
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      finish();
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(true);

      jest.spyOn(layer, 'groupAdd').mockRejectedValueOnce(new Error('redis gone'));
      hub.join(fakeClient('failing', true));
      await expect(hub.subscribed('failing')).resolves.toBeUndefined();
      expect(log.entries).toEqual([
        { level: 'error', fields: { event: 'group_add_failed', room: 'failing', error: 'redis gone' } },
      ]);
    });
  });

  describe('fan-out', () => {
    it('writes each message to every member in join order, messages in broadcast order', () => {
      const members = [fakeClient('lobby', true), fakeClient('lobby', false), fakeClient('lobby', true)];
      const order: string[] = [];
      for (const [k, m] of members.entries()) {
        hub.join(m);
        const send = m.ws.send.bind(m.ws);
        m.ws.send = (data: string | Buffer) => {
          order.push(`${k}:${data.toString().includes('first') ? 1 : 2}`);
          send(data);
        };
      }
      hub.broadcast('lobby', message(1, 'first'));
      hub.broadcast('lobby', message(2, 'second'));
      expect(order).toEqual(['0:1', '1:1', '2:1', '0:2', '1:2', '2:2']);
      expect(members[0].ws.frames().map((f) => [f.type, f.id, f.text])).toEqual([
        ['message', 1, 'first'],
        ['message', 2, 'second'],
      ]);
      expect(members[1].ws.texts()).toEqual(['<Speaker> first', '<Speaker> second']);
      expect(members[2].ws.texts()).toEqual(members[0].ws.texts());
    });

    it('builds each encoding once: the same buffer goes to every socket that speaks it', () => {
      const v1a = fakeClient('lobby', true);
      const v1b = fakeClient('lobby', true);
      const plainA = fakeClient('lobby', false);
      const plainB = fakeClient('lobby', false);
      for (const m of [v1a, plainA, v1b, plainB]) hub.join(m);
      hub.broadcast('lobby', message(7, 'once'));
      expect(v1a.ws.sent[0]).toBeInstanceOf(Buffer);
      expect(v1b.ws.sent[0]).toBe(v1a.ws.sent[0]);
      expect(plainB.ws.sent[0]).toBe(plainA.ws.sent[0]);
      expect(plainA.ws.sent[0]).not.toBe(v1a.ws.sent[0]);
    });

    it('holds messages for a member whose join history is not sent yet; skips closed sockets and other rooms', () => {
      const joining = fakeClient('lobby', true);
      joining.ready = false;
      const closed = fakeClient('lobby', true);
      const elsewhere = fakeClient('other', true);
      const live = fakeClient('lobby', false);
      for (const m of [joining, closed, elsewhere, live]) hub.join(m);
      closed.ws.readyState = WebSocket.CLOSED;
      const m = message(3, 'held');
      hub.broadcast('lobby', m);
      expect(joining.ws.sent).toEqual([]);
      expect(joining.pending).toEqual([m]);
      expect(closed.ws.sent).toEqual([]);
      expect(elsewhere.ws.sent).toEqual([]);
      expect(live.ws.texts()).toEqual(['<Speaker> held']);
      hub.broadcast('nobody-here', message(4, 'lost')); // no members: nothing to do
    });

    it('sendMessage and sendFrame write one client in its own protocol', () => {
      const v1 = fakeClient('lobby', true);
      const plain = fakeClient('lobby', false);
      hub.join(v1);
      hub.join(plain);
      hub.sendMessage(v1, message(5, 'direct'));
      hub.sendMessage(plain, message(5, 'direct'));
      hub.sendFrame(v1, { type: 'error', code: 'bad_request', message: 'no' });
      expect(v1.ws.frames()).toEqual([
        { type: 'message', ...message(5, 'direct') },
        { type: 'error', code: 'bad_request', message: 'no' },
      ]);
      expect(plain.ws.texts()).toEqual(['<Speaker> direct']);
    });
  });
});
