import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CommandRunner } from '../common/command-runner';
import { AppConfig } from '../config/app.config';
import { MetricsService } from '../metrics/metrics.service';
import { AdminUserDetails } from './admin-user-details';
import { AdminUsersController } from './admin-users.controller';
import { AuthController } from './auth.controller';
import { CsrfGuard } from './csrf';
import { LocalStrategy } from './local.strategy';
import { LoginThrottle } from './login-throttle';
import { LockoutsController } from './lockouts/lockouts.controller';
import { LoginFailure } from './lockouts/login-failure.entity';
import { LoginFailurePurgeJob } from './lockouts/login-failure-purge.job';
import { LoginFailureStore } from './lockouts/login-failure.store';
import { PasswordHasher } from './password-hasher';
import { PasswordValidator } from './password-validation';
import { Pbkdf2Pool } from './pbkdf2-pool';
import { SessionPurgeJob } from './session-purge.job';
import { Group, UserGroup } from './group.entity';
import { SessionEvents } from './session-events';
import { Session } from './session.entity';
import { SessionMiddleware } from './session.middleware';
import { SessionStore } from './session.store';
import { ApiToken } from './tokens/api-token.entity';
import { ApiTokenStore } from './tokens/api-token.store';
import { TokenScopeGuard } from './tokens/token-scope.guard';
import { AdminTokensController, TokensController } from './tokens/tokens.controller';
import { User } from './user.entity';
import { UsersService } from './users.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([User, Session, Group, UserGroup, LoginFailure, ApiToken]),
    PassportModule,
  ],
  controllers: [
    AuthController,
    AdminUsersController,
    LockoutsController,
    TokensController,
    AdminTokensController,
  ],
  providers: [
    {
      provide: Pbkdf2Pool,
      inject: [AppConfig, CommandRunner, MetricsService],
      useFactory: (config: AppConfig, commands: CommandRunner, metrics: MetricsService) =>
        new Pbkdf2Pool({ size: config.passwordHashThreads, commands, metrics }),
    },
    PasswordHasher,
    PasswordValidator,
    SessionStore,
    SessionEvents,
    UsersService,
    LoginThrottle,
    LoginFailureStore,
    LoginFailurePurgeJob,
    LocalStrategy,
    SessionPurgeJob,
    ApiTokenStore,
    AdminUserDetails,
    { provide: APP_GUARD, useClass: CsrfGuard },
    { provide: APP_GUARD, useClass: TokenScopeGuard },
  ],
  exports: [SessionStore, SessionEvents, UsersService, LoginThrottle, ApiTokenStore, AdminUserDetails],
})
export class AuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // /metrics has its own bearer token (METRICS_TOKEN, Prometheus' scrape credential), not an API token.
    consumer.apply(SessionMiddleware).exclude('metrics').forRoutes('*');
  }
}
