import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

const bigintAsNumber = {
  to: (v: number | null) => v,
  from: (v: string | number | null) => (v === null ? null : Number(v)),
};

export const MODERATION_ACTIONS = [
  'delete',
  'mute',
  'unmute',
  'kick',
  'ban',
  'unban',
  'rules_set',
  'rules_removed',
] as const;
export type ModerationAction = (typeof MODERATION_ACTIONS)[number];

/**
 * Every moderation action and rule change (live_chat_moderation_log): who, what, whom, where, why,
 * when. Names are copied so the record outlives the accounts; a deleted message is kept here whole.
 */
@Entity('live_chat_moderation_log')
@Index('live_chat_moderation_log_room_id', ['room', 'id'])
export class ModerationLogEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  @Column({ type: 'varchar', length: 100 })
  room!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: ModerationAction;

  @Column({ name: 'actor_id', type: 'integer', nullable: true })
  actorId!: number | null;

  @Column({ name: 'actor_name', type: 'varchar', length: 300 })
  actorName!: string;

  @Column({ name: 'target_user_id', type: 'integer', nullable: true })
  targetUserId!: number | null;

  @Column({ name: 'target_name', type: 'varchar', length: 300, nullable: true })
  targetName!: string | null;

  @Column({ name: 'message_id', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  messageId!: number | null;

  @Column({ name: 'message_user_id', type: 'integer', nullable: true })
  messageUserId!: number | null;

  @Column({ name: 'message_name', type: 'varchar', length: 300, nullable: true })
  messageName!: string | null;

  @Column({ name: 'message_text', type: 'text', nullable: true })
  messageText!: string | null;

  @Column({ name: 'message_at', type: Date, nullable: true })
  messageAt!: Date | null;

  @Column({ type: 'varchar', length: 500 })
  reason!: string;

  @Column({ name: 'expires_at', type: Date, nullable: true })
  expiresAt!: Date | null;

  /** How it was asked: 'http' (REST, the console) or 'ws' (a moderator's live.v1 socket). */
  @Column({ type: 'varchar', length: 8 })
  via!: 'http' | 'ws';
}
