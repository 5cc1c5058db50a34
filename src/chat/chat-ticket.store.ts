import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThanOrEqual, Repository } from 'typeorm';
import { ChatTicketEntity } from './chat-ticket.entity';

/** How long a ticket opens a handshake: long enough to hand it to a page, too short to be worth stealing. */
export const TICKET_TTL_MS = 30_000;
/** 32 random bytes in base64url. */
export const TICKET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Expired rows are deleted at most this often per instance (on the next issue). */
const PURGE_EVERY_MS = 60_000;

/** Injection token of the clock tickets expire by (absent: Date.now). */
export const TICKET_CLOCK = Symbol('ticketClock');

export const INVALID_TICKET = 'Invalid ticket.';

export function hashTicket(ticket: string): string {
  return createHash('sha256').update(ticket).digest('hex');
}

/** What a ticket is issued from: the identity the socket gets follows the same rules. */
export interface TicketSource {
  userId: number;
  /** The session it was asked for with (a cookie login), or null. */
  sessionKey: string | null;
  /** The API token it was asked for with, or null. */
  tokenId: number | null;
}

export type TicketUse = { ok: true; source: TicketSource } | { ok: false; message: string };

/**
 * Single-use handshake tickets in the shared database (live_chat_ticket), so that one instance
 * issues and any other takes. Only a ticket's SHA-256 is stored. Taking one deletes its row and
 * counts the rows deleted: of two handshakes presenting the same ticket at once, on one instance or
 * two, exactly one gets it.
 */
@Injectable()
export class ChatTicketStore {
  private readonly logger = new Logger('ChatTickets');
  private lastPurge = 0;
  private readonly now: () => number;

  constructor(
    @InjectRepository(ChatTicketEntity) private readonly tickets: Repository<ChatTicketEntity>,
    @Optional() @Inject(TICKET_CLOCK) clock?: () => number,
  ) {
    this.now = clock ?? Date.now;
  }

  async issue(room: string, source: TicketSource): Promise<{ ticket: string; expiresAt: Date }> {
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.now() + TICKET_TTL_MS);
    await this.tickets.insert({
      ticketHash: hashTicket(ticket),
      room,
      userId: source.userId,
      sessionKey: source.sessionKey,
      tokenId: source.tokenId,
      expiresAt,
    });
    this.purgeSoon();
    return { ticket, expiresAt };
  }

  /**
   * Takes the ticket for a handshake to `room`: gone afterwards whatever the answer (a ticket
   * presented for the wrong room or too late is spent too). Throws when the database cannot answer.
   */
  async take(ticket: string, room: string): Promise<TicketUse> {
    if (!TICKET_PATTERN.test(ticket)) return { ok: false, message: INVALID_TICKET };
    const ticketHash = hashTicket(ticket);
    const row = await this.tickets.findOneBy({ ticketHash });
    if (!row) return { ok: false, message: INVALID_TICKET };
    const deleted = await this.tickets.delete({ ticketHash });
    // Another handshake (here or on another instance) took it between the read and the delete.
    if (deleted.affected !== 1) return { ok: false, message: INVALID_TICKET };
    if (row.expiresAt.getTime() <= this.now()) return { ok: false, message: 'This ticket has expired.' };
    if (row.room !== room) return { ok: false, message: 'This ticket is for another room.' };
    return { ok: true, source: { userId: row.userId, sessionKey: row.sessionKey, tokenId: row.tokenId } };
  }

  /** Deletes expired tickets (never used); returns how many. */
  async purgeExpired(): Promise<number> {
    const result = await this.tickets.delete({ expiresAt: LessThanOrEqual(new Date(this.now())) });
    return result.affected ?? 0;
  }

  private purgeSoon(): void {
    const now = this.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    this.purgeExpired().then(
      (purged) => purged > 0 && this.logger.debug({ event: 'chat_tickets_purged', tickets: purged }),
      (err: Error) => this.logger.warn({ event: 'chat_ticket_purge_failed', error: err.message }),
    );
  }
}
