import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module';
import { AlertEntity } from './alert.entity';
import { AlertsConfig } from './alerts.config';
import { AlertsController } from './alerts.controller';
import { AlertsService } from './alerts.service';

/** Alerts for ops events (certs, VPN) over a webhook and/or email; see README "Alerts". */
@Module({
  imports: [TypeOrmModule.forFeature([AlertEntity]), AuthModule],
  controllers: [AlertsController],
  providers: [{ provide: AlertsConfig, useFactory: () => new AlertsConfig(process.env) }, AlertsService],
  exports: [AlertsService],
})
export class AlertsModule {}
