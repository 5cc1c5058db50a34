import { HttpException } from '@nestjs/common';
import { DomainException } from '../../common/domain.exception';

/** Two-factor set-up: not staff, already on, nothing to confirm, a wrong code. */
export class TwoFactorError extends DomainException<'invalid' | 'forbidden' | 'conflict' | 'not_found'> {}

/**
 * An answer that asks for the second factor: the shared error body plus `otp_required: true`
 * (HttpExceptionFilter passes that one field on). 401 at login (send the code), 403 on /admin (this session
 * has not passed two-factor, or a staff member must set it up first).
 */
export class OtpRequiredException extends HttpException {
  constructor(status: 401 | 403, message: string) {
    super({ statusCode: status, message, otp_required: true }, status);
  }
}
