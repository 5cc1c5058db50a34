import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type CertRunKind = 'renew' | 'obtain';
export type CertRunTrigger = 'schedule' | 'manual' | 'manage';
export type CertRunOutcome =
  'running' | 'renewed' | 'obtained' | 'not-due' | 'none' | 'partial' | 'failed' | 'skipped';

const json = {
  to: (v: unknown) => JSON.stringify(v ?? []),
  from: (v: string | null) => (v ? JSON.parse(v) : []),
};

@Entity('live_cert_run')
export class CertRun {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 10 })
  kind!: CertRunKind;

  @Column({ type: 'varchar', length: 10 })
  trigger!: CertRunTrigger;

  @Column({ name: 'requested_by', type: 'varchar', length: 150, nullable: true })
  requestedBy!: string | null;

  @Column({ type: 'text', transformer: json })
  domains!: string[];

  @Column({ name: 'started_at', type: Date })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: Date, nullable: true })
  finishedAt!: Date | null;

  @Column({ name: 'exit_code', type: 'integer', nullable: true })
  exitCode!: number | null;

  @Column({ type: 'varchar', length: 10 })
  outcome!: CertRunOutcome;

  @Column({ type: 'text', transformer: json })
  renewed!: string[];

  @Column({ type: 'text', transformer: json })
  failed!: { name: string; reason: string }[];

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'output_tail', type: 'text' })
  outputTail!: string;
}
