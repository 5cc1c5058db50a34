import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app.config';
import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { runMigrations } from './migrate';
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
      }),
      // Schema changes only through migrations, applied at start-up (one instance at a time).
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options as DataSourceOptions).initialize();
        await runMigrations(dataSource);
        return dataSource;
      },
    }),
    TypeOrmModule.forFeature([JobLease]),
  ],
  providers: [JobLockService],
  exports: [JobLockService],
})
export class DatabaseModule {}
