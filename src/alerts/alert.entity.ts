import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { AlertOutcome } from './alert.types';

const bigintAsNumber = { to: (v: number) => v, from: (v: string | number) => Number(v) };

/** One row per alert per channel: what was sent where, and how it went. */
@Entity('live_ops_alert')
@Index('live_ops_alert_dedupe', ['dedupeKey', 'channel', 'createdAt'])
@Index('live_ops_alert_created_at', ['createdAt'])
export class AlertEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  event!: string;

  @Column({ type: 'varchar', length: 16 })
  severity!: string;

  @Column({ type: 'varchar', length: 300 })
  subject!: string;

  @Column({ type: 'text' })
  detail!: string;

  @Column({ name: 'dedupe_key', type: 'varchar', length: 300, nullable: true })
  dedupeKey!: string | null;

  @Column({ type: 'varchar', length: 32 })
  channel!: string;

  @Column({ type: 'varchar', length: 16 })
  outcome!: AlertOutcome;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ type: 'integer' })
  attempts!: number;

  /** Milliseconds since the epoch: compared as numbers, same on both engines. */
  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt!: number;
}
