import { DataSource } from 'typeorm';
import { ChatTicketEntity } from './chat-ticket.entity';
import { ChatTicketStore, hashTicket, INVALID_TICKET, TICKET_TTL_MS } from './chat-ticket.store';

/** Two "instances" (two stores) on one real SQLite database, with a clock the test moves. */
describe('ChatTicketStore', () => {
  let db: DataSource;
  let now: number;
  let a: ChatTicketStore;
  let b: ChatTicketStore;
  const source = { userId: 3, sessionKey: 'k'.repeat(32), tokenId: null };

  beforeEach(async () => {
    db = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [ChatTicketEntity],
      synchronize: true,
    }).initialize();
    now = Date.parse('2026-11-28T05:00:00Z');
    const repo = db.getRepository(ChatTicketEntity);
    a = new ChatTicketStore(repo, () => now);
    b = new ChatTicketStore(repo, () => now);
  });
  afterEach(() => db.destroy());

  it('keeps only the hash, and one store issues what the other takes, once', async () => {
    const { ticket, expiresAt } = await a.issue('lobby', source);
    expect(expiresAt.getTime()).toBe(now + TICKET_TTL_MS);
    const rows = await db.getRepository(ChatTicketEntity).find();
    expect(rows.map((r) => r.ticketHash)).toEqual([hashTicket(ticket)]);
    expect(JSON.stringify(rows)).not.toContain(ticket);
    expect(await b.take(ticket, 'lobby')).toEqual({ ok: true, source });
    expect(await a.take(ticket, 'lobby')).toEqual({ ok: false, message: INVALID_TICKET });
    expect(await db.getRepository(ChatTicketEntity).count()).toBe(0);
  });

  it('expires after 30 s by the clock: valid at 29.999 s, refused at 30 s', async () => {
    const first = await a.issue('lobby', source);
    const second = await a.issue('lobby', source);
    now += TICKET_TTL_MS - 1;
    expect((await b.take(first.ticket, 'lobby')).ok).toBe(true);
    now += 1;
    expect(await b.take(second.ticket, 'lobby')).toEqual({ ok: false, message: 'This ticket has expired.' });
  });

  it('a ticket presented for another room is refused and spent', async () => {
    const { ticket } = await a.issue('lobby', source);
    expect(await b.take(ticket, 'other')).toEqual({ ok: false, message: 'This ticket is for another room.' });
    expect((await b.take(ticket, 'lobby')).ok).toBe(false);
  });

  it('refuses malformed tickets without a query', async () => {
    const find = jest.spyOn(db.getRepository(ChatTicketEntity), 'findOneBy');
    for (const junk of ['', 'x', 'A'.repeat(44), 'A'.repeat(42) + '=', 'A'.repeat(100_000)])
      expect(await a.take(junk, 'lobby')).toEqual({ ok: false, message: INVALID_TICKET });
    expect(find).not.toHaveBeenCalled();
  });

  it('concurrent takes of one ticket: exactly one wins', async () => {
    const { ticket } = await a.issue('lobby', source);
    const results = await Promise.all([
      a.take(ticket, 'lobby'),
      b.take(ticket, 'lobby'),
      a.take(ticket, 'lobby'),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('purges expired tickets, never live ones', async () => {
    await a.issue('lobby', source);
    now += TICKET_TTL_MS;
    const { ticket } = await a.issue('lobby', { userId: 4, sessionKey: null, tokenId: 9 });
    expect(await a.purgeExpired()).toBe(1);
    expect(await b.take(ticket, 'lobby')).toEqual({
      ok: true,
      source: { userId: 4, sessionKey: null, tokenId: 9 },
    });
  });
});
