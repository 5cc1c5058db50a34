import { ApiProperty, ApiResponse } from '@nestjs/swagger';
import { ErrorBody } from '../../common/openapi';

/** OpenAPI shapes of the two-factor answers (the interfaces in two-factor.service.ts, as classes). */
export class TwoFactorStatusDoc {
  @ApiProperty({ description: 'A confirmed authenticator protects the account' }) enabled!: boolean;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) confirmedAt!: string | null;
  @ApiProperty({ description: 'A set-up was started and not confirmed yet' }) pending!: boolean;
  @ApiProperty() recoveryCodesLeft!: number;
  @ApiProperty({ enum: ['optional', 'required'], description: 'STAFF_2FA as it applies to this account' })
  policy!: string;
  @ApiProperty({ description: 'This session passed a code of the current authenticator' })
  sessionVerified!: boolean;
  @ApiProperty({
    description: 'STAFF_2FA=required and no authenticator yet: /admin answers 403 otp_required',
  })
  mustEnrol!: boolean;
}

export class EnrolmentDoc {
  @ApiProperty({ description: 'The secret in base32, for typing into the app', example: 'JBSWY3DPEHPK3PXP…' })
  secret!: string;
  @ApiProperty({
    example: 'otpauth://totp/live:ada?secret=…&issuer=live&algorithm=SHA1&digits=6&period=30',
  })
  otpauthUri!: string;
  @ApiProperty({
    description: 'The otpauth URI as a QR code: a PNG data: URL',
    example: 'data:image/png;base64,…',
  })
  qrCode!: string;
}

export class RecoveryCodesDoc {
  @ApiProperty({
    type: [String],
    description: 'Ten single-use recovery codes, shown this once (only their hashes are kept)',
    example: ['abcde-fghjk'],
  })
  recoveryCodes!: string[];
}

/** The error body asking for the second factor. */
export class OtpRequiredBody extends ErrorBody {
  @ApiProperty({ enum: [true] })
  otp_required!: true;
}

/** Documents an answer that asks for the second factor (401 at login, 403 on /admin). */
export const ApiOtpRequired = (status: 401 | 403, description: string): MethodDecorator & ClassDecorator =>
  ApiResponse({ status, description, type: OtpRequiredBody });
