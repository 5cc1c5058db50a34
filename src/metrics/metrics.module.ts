import { Global, Module } from '@nestjs/common';
import { MetricsConfig } from './metrics.config';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, { provide: MetricsConfig, useFactory: () => new MetricsConfig(process.env) }],
  exports: [MetricsService],
})
export class MetricsModule {}
