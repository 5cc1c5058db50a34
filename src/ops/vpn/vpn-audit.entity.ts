import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

const bigintAsNumber = {
  to: (v: number | null) => v,
  from: (v: string | number | null) => (v === null ? null : Number(v)),
};

/** Who did what to which VPN client, when, and how it went. */
@Entity('live_vpn_audit')
export class VpnAudit {
  @PrimaryGeneratedColumn()
  id!: number;

  /** Epoch milliseconds. */
  @Column({ type: 'bigint', transformer: bigintAsNumber })
  at!: number;

  @Column({ type: 'varchar', length: 150 })
  actor!: string;

  @Column({ type: 'varchar', length: 32 })
  action!: string;

  @Column({ name: 'client_name', type: 'varchar', length: 64, nullable: true })
  clientName!: string | null;

  @Column({ type: 'varchar', length: 16 })
  outcome!: 'ok' | 'failed';

  @Column({ type: 'text', default: '' })
  detail!: string;
}

/** Metadata the PKI does not keep: who created/revoked a client and when (epoch ms). */
@Entity('live_vpn_client')
export class VpnClientMeta {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ name: 'created_by', type: 'varchar', length: 150, nullable: true })
  createdBy!: string | null;

  @Column({ name: 'created_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  createdAt!: number | null;

  @Column({ name: 'revoked_by', type: 'varchar', length: 150, nullable: true })
  revokedBy!: string | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  revokedAt!: number | null;

  /** The user the client belongs to (auth_user.id), or null: a client for a device or a person without an account. */
  @Column({ name: 'owner_id', type: 'integer', nullable: true })
  ownerId!: number | null;
}

/** A one-time download link for a client's profile: the SHA-256 of its token, valid until used or expired. */
@Entity('live_vpn_download_link')
export class VpnDownloadLink {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'token_hash', type: 'varchar', length: 64, unique: true })
  tokenHash!: string;

  @Column({ name: 'client_name', type: 'varchar', length: 64 })
  clientName!: string;

  @Column({ name: 'created_by', type: 'varchar', length: 150 })
  createdBy!: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: bigintAsNumber })
  createdAt!: number;

  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintAsNumber })
  expiresAt!: number;

  @Column({ name: 'used_at', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  usedAt!: number | null;
}
