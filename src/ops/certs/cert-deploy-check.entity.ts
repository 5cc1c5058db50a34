import { Column, Entity, PrimaryColumn } from 'typeorm';

export type DeployStatus = 'deployed' | 'not-deployed' | 'unreachable';

/** What one domain served when checked: the certificate's serial, or why nothing could be read. */
export interface ServedCheck {
  domain: string;
  address: string;
  served: string | null;
  matches: boolean;
  error: string | null;
}

const json = {
  to: (v: unknown) => JSON.stringify(v ?? []),
  from: (v: string | null) => (v ? JSON.parse(v) : []),
};

/** The last served-certificate check of one lineage (shared, so every instance's /health agrees). */
@Entity('live_cert_deploy_check')
export class CertDeployCheck {
  @PrimaryColumn({ type: 'varchar', length: 253 })
  name!: string;

  @Column({ name: 'checked_at', type: Date })
  checkedAt!: Date;

  @Column({ type: 'varchar', length: 16 })
  status!: DeployStatus;

  @Column({ name: 'expected_serial', type: 'varchar', length: 64 })
  expectedSerial!: string;

  @Column({ type: 'text', transformer: json })
  detail!: ServedCheck[];
}
