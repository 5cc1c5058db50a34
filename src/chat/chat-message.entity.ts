import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

const bigintAsNumber = { to: (v: number) => v, from: (v: string | number) => Number(v) };

@Entity('live_chat_message')
@Index('live_chat_message_room_id', ['room', 'id'])
export class ChatMessageEntity {
  /** Made by MessageIdGenerator at send time, not by the database. */
  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  room!: string;

  @Column({ name: 'user_id', type: 'integer', nullable: true })
  userId!: number | null;

  @Column({ type: 'varchar', length: 300 })
  name!: string;

  @Column({ type: 'text' })
  text!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  /** Posted through the publish API under a bot name (see PublishService). */
  @Column({ type: 'boolean', default: false })
  bot!: boolean;
}
