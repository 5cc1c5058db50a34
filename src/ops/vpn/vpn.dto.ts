import { ApiProperty } from '@nestjs/swagger';
import {
  IsOptional,
  IsString,
  Matches,
  Validate,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { CLIENT_NAME } from './vpn-runner';

/** A user named by id (int4) or by username (Django's 150 characters of letters, digits and @.+-_). */
@ValidatorConstraint({ name: 'userRef' })
export class UserRefConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value === 'number') return Number.isInteger(value) && value >= 1 && value <= 2147483647;
    return typeof value === 'string' && /^[\w.@+-]{1,150}$/.test(value);
  }

  defaultMessage(): string {
    return 'user must be a user id (integer) or a username (1-150 characters of letters, digits and @.+-_)';
  }
}

export class CreateVpnClientDto {
  @ApiProperty({ example: 'alice', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' })
  @IsString()
  @Matches(CLIENT_NAME, {
    message: 'name must be 1-64 characters of A-Za-z0-9_.- starting with a letter or digit',
  })
  name!: string;

  @ApiProperty({
    required: false,
    description: 'The owner: a user id (integer) or a username',
    oneOf: [{ type: 'integer' }, { type: 'string' }],
    example: 'alice',
  })
  @IsOptional()
  @Validate(UserRefConstraint)
  user?: number | string;
}
