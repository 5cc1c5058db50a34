import { BadRequestException, CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { LiveRequest } from './auth.types';
import { LoginDto } from './users.dto';
import { codeProblem } from './two-factor/codes';
import { isCodeStep } from './two-factor/login-step.guard';

/**
 * Guards run before pipes, so the login body is validated here, ahead of the Passport guard
 * (which would otherwise answer a malformed body with a bare 401).
 */
@Injectable()
export class LoginBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const body: unknown = context.switchToHttp().getRequest<LiveRequest>().body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new BadRequestException('Expected a JSON object {username, password}');
    }
    const unknown = Object.keys(body).filter((k) => k !== 'username' && k !== 'password' && k !== 'code');
    if (unknown.length > 0)
      throw new BadRequestException(unknown.map((k) => `property ${k} should not exist`));
    // Two-factor: `{code}` alone after the password step, or with the credentials in one call.
    const codeError = 'code' in body ? codeProblem(body.code) : null;
    if (codeError) throw new BadRequestException([codeError]);
    if (isCodeStep(body)) return true;
    const errors = validateSync(plainToInstance(LoginDto, body));
    if (errors.length > 0) {
      throw new BadRequestException(errors.flatMap((e) => Object.values(e.constraints ?? {})));
    }
    return true;
  }
}
