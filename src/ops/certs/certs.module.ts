import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../../config/app.config';
import { AcmeChallengeController } from './acme-challenge.controller';
import { CertInventoryService } from './cert-inventory.service';
import { CertRenewalJob } from './cert-renewal.job';
import { CertRun } from './cert-run.entity';
import { CertbotDriver } from './certbot.driver';
import { CertsConfig } from './certs.config';
import { CertsController } from './certs.controller';
import { CertsService } from './certs.service';

@Module({
  imports: [TypeOrmModule.forFeature([CertRun])],
  controllers: [CertsController, AcmeChallengeController],
  providers: [
    {
      provide: CertsConfig,
      inject: [AppConfig],
      useFactory: (app: AppConfig) => new CertsConfig(process.env, app),
    },
    CertbotDriver,
    CertInventoryService,
    CertsService,
    CertRenewalJob,
  ],
  exports: [CertsService],
})
export class CertsModule {}
