import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * An API token (live_api_token): only the SHA-256 of the key is kept, with its first characters to
 * tell tokens apart in lists. Revoking deletes the row; a user's tokens go with the user.
 */
@Entity('live_api_token')
export class ApiToken {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'user_id', type: 'integer' })
  @Index('live_api_token_user')
  userId!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  /** The key's first characters (`live_` and 8 more), shown in lists. */
  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix!: string;

  /** Hex SHA-256 of the whole key: the key is 256 random bits, so a fast hash is enough. */
  @Column({ name: 'key_hash', type: 'varchar', length: 64, unique: true })
  keyHash!: string;

  /** Space-separated scopes. */
  @Column({ type: 'varchar', length: 200 })
  scopes!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;

  /** The staff member who made it for someone else (a service token), or null (the user's own). */
  @Column({ name: 'created_by_id', type: 'integer', nullable: true })
  createdById!: number | null;

  @Column({ name: 'expires_at', type: Date, nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'last_used_at', type: Date, nullable: true })
  lastUsedAt!: Date | null;
}
