import { BadRequestException, CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { LiveRequest } from './auth.types';
import { LoginDto } from './users.dto';

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
    const unknown = Object.keys(body).filter((k) => k !== 'username' && k !== 'password');
    if (unknown.length > 0)
      throw new BadRequestException(unknown.map((k) => `property ${k} should not exist`));
    const errors = validateSync(plainToInstance(LoginDto, body));
    if (errors.length > 0) {
      throw new BadRequestException(errors.flatMap((e) => Object.values(e.constraints ?? {})));
    }
    return true;
  }
}
