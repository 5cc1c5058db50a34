import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CommandRunner } from '../common/command-runner';
import { AppConfig } from '../config/app.config';
import { MetricsService } from '../metrics/metrics.service';
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
import { User } from './user.entity';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([User, Session, Group, UserGroup, LoginFailure]), PassportModule],
  controllers: [AuthController, AdminUsersController, LockoutsController],
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
    { provide: APP_GUARD, useClass: CsrfGuard },
  ],
  exports: [SessionStore, SessionEvents, UsersService, LoginThrottle],
})
export class AuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('*');
  }
}
