import { ApiProperty } from '@nestjs/swagger';
import { IsString, MaxLength, ValidateBy } from 'class-validator';
import { CODE_SHAPE_MESSAGE, parseCode } from './codes';

const CODE_DESCRIPTION =
  'The 6-digit code the authenticator app shows now, or an unused recovery code (xxxxx-xxxxx); ' +
  'spaces and dashes are ignored';

/** A code typed by the person: confirm, verify, disable. */
export class CodeDto {
  @ApiProperty({ type: String, example: '123456', description: CODE_DESCRIPTION, maxLength: 64 })
  @IsString()
  @MaxLength(64)
  @ValidateBy({
    name: 'isTwoFactorCode',
    validator: { validate: (v: unknown) => parseCode(v) !== null, defaultMessage: () => CODE_SHAPE_MESSAGE },
  })
  code!: string;
}

/** POST /auth/login's body, both steps (documentation only: LoginBodyGuard checks it). */
export class LoginBodyDoc {
  @ApiProperty({ type: String, required: false, description: 'Step 1 (or a one-call login): the username' })
  username?: string;

  @ApiProperty({ type: String, required: false, description: 'Step 1 (or a one-call login): the password' })
  password?: string;

  @ApiProperty({
    type: String,
    required: false,
    example: '123456',
    description:
      'Accounts with two-factor: the code, either alone after a 401 `otp_required` (the pending-login ' +
      `cookie says who), or with username and password in one call. ${CODE_DESCRIPTION}`,
  })
  code?: string;
}
