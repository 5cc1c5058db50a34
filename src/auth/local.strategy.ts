import { HttpException, HttpStatus, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-local';
import { MetricsService } from '../metrics/metrics.service';
import type { LiveRequest } from './auth.types';
import { LoginThrottle } from './login-throttle';
import { User } from './user.entity';
import { UsersService } from './users.service';

export const INVALID_LOGIN =
  'Please enter a correct username and password. Note that both fields may be case-sensitive.';

/** Username + password against the Django-format hash, behind the brute-force throttle. */
@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy) {
  private readonly logger = new Logger('Login');

  constructor(
    private readonly users: UsersService,
    private readonly throttle: LoginThrottle,
    private readonly metrics: MetricsService,
  ) {
    super({ passReqToCallback: true });
  }

  async validate(req: LiveRequest, username: string, password: string): Promise<User> {
    const address = req.ip ?? 'unknown';
    // Throws when the database cannot count the attempt: the login fails closed (503), unchecked.
    const verdict = await this.throttle.reserve(username, address);
    if (!verdict.allowed) {
      this.metrics.logins.inc({ outcome: 'throttled' });
      this.logger.warn({
        event: 'login_throttled',
        username,
        address,
        retryAfter: verdict.retryAfterSeconds,
      });
      req.res?.setHeader('Retry-After', String(verdict.retryAfterSeconds));
      throw new HttpException(
        `Too many failed login attempts. Try again in ${verdict.retryAfterSeconds} seconds.`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    let user: User | null;
    try {
      user = await this.users.authenticate(username, password);
    } catch (err) {
      await this.throttle.release(verdict.attempt);
      throw err;
    }
    if (!user) {
      // Already counted by reserve(); this may be the failure that locks the pair or the address.
      this.metrics.logins.inc({ outcome: 'failure' });
      this.logger.log({ event: 'login_failed', username, address });
      this.throttle.failed(verdict.attempt);
      throw new UnauthorizedException(INVALID_LOGIN);
    }
    this.metrics.logins.inc({ outcome: 'success' });
    await this.throttle.succeeded(verdict.attempt);
    return user;
  }
}
