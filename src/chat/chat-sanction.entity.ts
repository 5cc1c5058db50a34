import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type SanctionKind = 'mute' | 'ban';

/**
 * A mute or a ban of a user in a room (live_chat_sanction), declared or not. Active while
 * `lifted_at` is null and `expires_at` is null or later than now; lifting keeps the row.
 */
@Entity('live_chat_sanction')
@Index('live_chat_sanction_room_user', ['room', 'userId'])
export class ChatSanctionEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  room!: string;

  @Column({ name: 'user_id', type: 'integer' })
  userId!: number;

  @Column({ type: 'varchar', length: 8 })
  kind!: SanctionKind;

  @Column({ type: 'varchar', length: 500 })
  reason!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ name: 'created_by_id', type: 'integer', nullable: true })
  createdById!: number | null;

  @Column({ name: 'expires_at', type: Date, nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'lifted_at', type: Date, nullable: true })
  liftedAt!: Date | null;

  @Column({ name: 'lifted_by_id', type: 'integer', nullable: true })
  liftedById!: number | null;
}
