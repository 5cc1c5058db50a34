import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('live_job_lease')
export class JobLease {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 100 })
  holder!: string;

  /** Milliseconds since the epoch (bigint comes back as a string from pg). */
  @Column({
    name: 'expires_at',
    type: 'bigint',
    transformer: { to: (v: number) => v, from: (v: string) => Number(v) },
  })
  expiresAt!: number;
}
