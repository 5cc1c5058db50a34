import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Django's django_session, exactly: whose session it is lives only in the signed session_data. */
@Entity('django_session')
export class Session {
  @PrimaryColumn({ name: 'session_key', type: 'varchar', length: 40 })
  sessionKey!: string;

  @Column({ name: 'session_data', type: 'text' })
  sessionData!: string;

  @Column({ name: 'expire_date', type: Date })
  expireDate!: Date;
}
