import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import type { JoinRule, PostRule } from './room-rules';

/** A room staff gave rules (live_chat_room). Rooms without a row keep the open default. */
@Entity('live_chat_room')
export class ChatRoomEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  room!: string;

  @Column({ name: 'join_rule', type: 'varchar', length: 16 })
  join!: JoinRule;

  @Column({ name: 'post_rule', type: 'varchar', length: 16 })
  post!: PostRule;

  @Column({ type: 'varchar', length: 500 })
  topic!: string;

  /** auth_group whose members moderate the room. */
  @Column({ name: 'moderator_group_id', type: 'integer', nullable: true })
  moderatorGroupId!: number | null;

  @Column({ name: 'updated_at', type: Date })
  updatedAt!: Date;

  @Column({ name: 'updated_by_id', type: 'integer', nullable: true })
  updatedById!: number | null;
}

/** One listed member of a `members` room: a user or a Django group (live_chat_room_member). */
@Entity('live_chat_room_member')
@Index('live_chat_room_member_room', ['room'])
export class ChatRoomMemberEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  room!: string;

  @Column({ name: 'user_id', type: 'integer', nullable: true })
  userId!: number | null;

  @Column({ name: 'group_id', type: 'integer', nullable: true })
  groupId!: number | null;
}
