import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

const bigintAsNumber = {
  to: (v: number | null) => v,
  from: (v: string | number | null) => (v === null ? null : Number(v)),
};

/**
 * A user's authenticator (one per user): its secret, sealed with SecretBox (never stored or logged
 * in the clear), and the last time step a code was accepted, so no code counts twice.
 */
@Entity('live_totp_device')
export class TotpDevice {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'user_id', type: 'integer', unique: true })
  userId!: number;

  /** `v1:iv:ciphertext:tag` (SecretBox), bound to the user id. */
  @Column({ name: 'secret', type: 'varchar', length: 200 })
  sealedSecret!: string;

  /** Null until a code from the app confirmed the enrolment: until then it protects nothing. */
  @Column({ name: 'confirmed_at', type: Date, nullable: true })
  confirmedAt!: Date | null;

  @Column({ name: 'last_used_step', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  lastUsedStep!: number | null;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;
}
