import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app.config';
import { buildDataSourceOptions } from './data-source-options';
import { JobLease } from './job-lease.entity';
import { JobLockService } from './job-lock.service';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...buildDataSourceOptions(config.database),
        autoLoadEntities: true,
        // Schema changes only through migrations, applied at start-up.
        migrationsRun: true,
      }),
    }),
    TypeOrmModule.forFeature([JobLease]),
  ],
  providers: [JobLockService],
  exports: [JobLockService],
})
export class DatabaseModule {}
