import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One single-use recovery code: only its keyed hash (CodeHasher), and when it was used. */
@Entity('live_recovery_code')
@Index('live_recovery_code_user_id', ['userId'])
export class RecoveryCode {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'user_id', type: 'integer' })
  userId!: number;

  @Column({ name: 'code_hash', type: 'varchar', length: 64 })
  codeHash!: string;

  @Column({ name: 'used_at', type: Date, nullable: true })
  usedAt!: Date | null;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;
}
