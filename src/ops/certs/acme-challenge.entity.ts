import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One pending http-01 challenge, stored by certbot's auth hook and removed by its cleanup hook. */
@Entity('live_acme_challenge')
export class AcmeChallenge {
  @PrimaryColumn({ type: 'varchar', length: 256 })
  token!: string;

  @Column({ name: 'key_authorization', type: 'varchar', length: 600 })
  keyAuthorization!: string;

  @Column({ type: 'varchar', length: 253 })
  domain!: string;

  @Column({ name: 'created_at', type: Date })
  createdAt!: Date;
}
