import { IsOptional, Matches } from 'class-validator';
import { validateEnv } from '../config/validate-env';

export class MetricsEnv {
  @IsOptional()
  @Matches(/^[\x21-\x7e]{16,256}$/, {
    message: 'METRICS_TOKEN must be 16 to 256 printable characters, no spaces',
  })
  METRICS_TOKEN?: string;
}

export class MetricsConfig {
  /** When set, /metrics wants `Authorization: Bearer <token>`. */
  readonly token: string | undefined;

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>) {
    this.token = validateEnv(MetricsEnv, env).METRICS_TOKEN;
  }
}
