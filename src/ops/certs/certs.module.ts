import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AcmeChallengeController } from './acme-challenge.controller';
import { CertInventoryService } from './cert-inventory.service';
import { CertRenewalJob } from './cert-renewal.job';
import { CertRun } from './cert-run.entity';
import { CertbotDriver } from './certbot.driver';
import { CertsController } from './certs.controller';
import { CertsService } from './certs.service';

@Module({
  imports: [TypeOrmModule.forFeature([CertRun])],
  controllers: [CertsController, AcmeChallengeController],
  providers: [CertbotDriver, CertInventoryService, CertsService, CertRenewalJob],
  exports: [CertsService],
})
export class CertsModule {}
