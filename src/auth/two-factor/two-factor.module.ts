import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth.module';
import { RecoveryCode } from './recovery-code.entity';
import { TotpDevice } from './totp-device.entity';
import { TwoFactorController } from './two-factor.controller';
import { TwoFactorLogin } from './two-factor.login';
import { TwoFactorService } from './two-factor.service';

/**
 * Staff two-factor. Global because StaffGuard, which every /admin controller uses in its own module,
 * asks TwoFactorService whether the session may pass; AuthController's login asks TwoFactorLogin.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([TotpDevice, RecoveryCode]), AuthModule],
  controllers: [TwoFactorController],
  providers: [TwoFactorService, TwoFactorLogin],
  exports: [TwoFactorService, TwoFactorLogin],
})
export class TwoFactorModule {}
