import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

const bigintAsNumber = { to: (v: number) => v, from: (v: string | number) => Number(v) };

/** One failed login (or one being checked right now: see LoginThrottle.reserve). */
@Entity('live_login_failure')
@Index('live_login_failure_key', ['address', 'username', 'attemptedAt'])
@Index('live_login_failure_attempted_at', ['attemptedAt'])
export class LoginFailure {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 150 })
  username!: string;

  @Column({ type: 'varchar', length: 100 })
  address!: string;

  /** Milliseconds since the epoch. */
  @Column({ name: 'attempted_at', type: 'bigint', transformer: bigintAsNumber })
  attemptedAt!: number;
}
