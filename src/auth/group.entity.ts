import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Django's auth_group: named sets of users (room rules refer to them). */
@Entity('auth_group')
export class Group {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 150, unique: true })
  name!: string;
}

/** Django's auth_user_groups: one row per (user, group) membership. */
@Entity('auth_user_groups')
export class UserGroup {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'user_id', type: 'integer' })
  userId!: number;

  @Column({ name: 'group_id', type: 'integer' })
  groupId!: number;
}
