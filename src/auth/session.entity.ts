import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Django's django_session (plus user_id, so a user's sessions can be found and cascade on delete). */
@Entity('django_session')
export class Session {
  @PrimaryColumn({ name: 'session_key', type: 'varchar', length: 40 })
  sessionKey!: string;

  @Column({ name: 'session_data', type: 'text' })
  sessionData!: string;

  @Column({ name: 'expire_date', type: Date })
  expireDate!: Date;

  @Column({ name: 'user_id', type: 'integer', nullable: true })
  userId!: number | null;
}
