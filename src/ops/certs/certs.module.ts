import { Module } from '@nestjs/common';
import { getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AcmeChallengeController } from './acme-challenge.controller';
import { AcmeChallenge } from './acme-challenge.entity';
import { AcmeChallengeStore } from './acme-challenge.store';
import { CertDeployCheck } from './cert-deploy-check.entity';
import { CertDeployChecker } from './cert-deploy-check.service';
import { CertInventoryService } from './cert-inventory.service';
import { CertRenewalJob } from './cert-renewal.job';
import { CertRun } from './cert-run.entity';
import { CertbotDriver } from './certbot.driver';
import { CertsController } from './certs.controller';
import { CertsService } from './certs.service';
import { ServedCertProbe } from './served-cert.probe';

@Module({
  imports: [TypeOrmModule.forFeature([CertRun, AcmeChallenge, CertDeployCheck])],
  controllers: [CertsController, AcmeChallengeController],
  providers: [
    CertbotDriver,
    CertInventoryService,
    CertsService,
    CertRenewalJob,
    ServedCertProbe,
    CertDeployChecker,
    {
      provide: AcmeChallengeStore,
      useFactory: (repo: Repository<AcmeChallenge>) => new AcmeChallengeStore(repo),
      inject: [getRepositoryToken(AcmeChallenge)],
    },
  ],
  exports: [CertsService],
})
export class CertsModule {}
