import { MessageIdGenerator } from './message-id';

describe('MessageIdGenerator', () => {
  it('makes strictly increasing ids, borrowing the clock past 64 per millisecond', () => {
    const g = new MessageIdGenerator(3, () => Date.UTC(2026, 5, 1));
    const ids = Array.from({ length: 1000 }, () => g.next());
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]);
    expect(new Set(ids).size).toBe(1000);
    expect(Number.isSafeInteger(ids[999])).toBe(true);
    expect(MessageIdGenerator.timeOf(ids[0])).toBe(Date.UTC(2026, 5, 1));
  });

  it('never collides between instance slots in the same millisecond', () => {
    const clock = () => Date.UTC(2026, 5, 1);
    const a = new MessageIdGenerator(1, clock);
    const b = new MessageIdGenerator(2, clock);
    const ids = new Set<number>();
    for (let i = 0; i < 500; i++) {
      ids.add(a.next());
      ids.add(b.next());
    }
    expect(ids.size).toBe(1000);
  });

  it('does not go backwards when the clock does', () => {
    let t = Date.UTC(2026, 5, 1, 12);
    const g = new MessageIdGenerator(0, () => t);
    const first = g.next();
    t -= 5000;
    expect(g.next()).toBeGreaterThan(first);
  });
});
