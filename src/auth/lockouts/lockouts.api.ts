import { ApiProperty } from '@nestjs/swagger';
import type { Lockout } from './login-failure.store';

/** A lockout as the API shows it: times as ISO strings. */
export interface LockoutView {
  username: string | null;
  address: string;
  failures: number;
  lastFailureAt: string;
  lockedUntil: string;
}

export function toLockoutView(l: Lockout): LockoutView {
  return {
    username: l.username,
    address: l.address,
    failures: l.failures,
    lastFailureAt: new Date(l.lastFailureAt).toISOString(),
    lockedUntil: new Date(l.lockedUntil).toISOString(),
  };
}

/** OpenAPI shapes of the lockout answers. */
export class LockoutDoc {
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The username locked from `address`; null when the whole address is over its ceiling',
  })
  username!: string | null;
  @ApiProperty() address!: string;
  @ApiProperty({ description: 'Failed logins in the window' }) failures!: number;
  @ApiProperty({ format: 'date-time' }) lastFailureAt!: string;
  @ApiProperty({ format: 'date-time', description: 'When logins get through again unless unlocked' })
  lockedUntil!: string;
}

export class LockoutListDoc {
  @ApiProperty({ description: 'LOGIN_FAILURE_WINDOW' }) windowSeconds!: number;
  @ApiProperty({ description: 'LOGIN_MAX_FAILURES, per username and address' }) maxFailures!: number;
  @ApiProperty({ description: 'LOGIN_MAX_FAILURES_PER_ADDRESS' }) maxFailuresPerAddress!: number;
  @ApiProperty({ type: [LockoutDoc], description: 'Addresses first, then pairs, newest failure first' })
  lockouts!: LockoutDoc[];
}

export class UnlockResultDoc {
  @ApiProperty({ type: [LockoutDoc], description: 'The lockouts in force that this lifted' })
  lockouts!: LockoutDoc[];
  @ApiProperty({ description: 'Failed logins deleted (locked or not)' }) failuresCleared!: number;
}
