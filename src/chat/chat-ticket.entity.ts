import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A single-use ticket for one WebSocket handshake (live_chat_ticket): only its SHA-256 is kept, with
 * the room it opens and what it was issued from (a session or an API token), so that the socket's
 * identity follows the same rules. In the shared database, so that any instance takes it; the row is
 * deleted when used, and expired rows are purged.
 */
@Entity('live_chat_ticket')
export class ChatTicketEntity {
  /** Hex SHA-256 of the ticket (256 random bits: a fast hash is enough). */
  @PrimaryColumn({ name: 'ticket_hash', type: 'varchar', length: 64 })
  ticketHash!: string;

  @Column({ type: 'varchar', length: 100 })
  room!: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId!: number;

  /** The session the ticket was asked for with (null: with a token). */
  @Column({ name: 'session_key', type: 'varchar', length: 40, nullable: true })
  sessionKey!: string | null;

  /** The API token it was asked for with (null: with a session). */
  @Column({ name: 'token_id', type: 'integer', nullable: true })
  tokenId!: number | null;

  @Column({ name: 'expires_at', type: Date })
  @Index('live_chat_ticket_expires')
  expiresAt!: Date;
}
