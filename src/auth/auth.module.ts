import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminUsersController } from './admin-users.controller';
import { AuthController } from './auth.controller';
import { CsrfGuard } from './csrf';
import { LocalStrategy } from './local.strategy';
import { LoginThrottle } from './login-throttle';
import { SessionPurgeJob } from './session-purge.job';
import { Session } from './session.entity';
import { SessionMiddleware } from './session.middleware';
import { SessionStore } from './session.store';
import { User } from './user.entity';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([User, Session]), PassportModule],
  controllers: [AuthController, AdminUsersController],
  providers: [
    SessionStore,
    UsersService,
    LoginThrottle,
    LocalStrategy,
    SessionPurgeJob,
    { provide: APP_GUARD, useClass: CsrfGuard },
  ],
  exports: [SessionStore, UsersService],
})
export class AuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(SessionMiddleware).forRoutes('*');
  }
}
