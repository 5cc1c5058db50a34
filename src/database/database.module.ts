import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app.config';
import { DataSource, DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { runMigrations } from './migrate';
import { JobLease } from './job-lease.entity';
import { JobLockService } from './job-lock.service';

@Global()
@Module({})
export class DatabaseModule {
  /**
   * `retryConnect`: the server waits for a database that is still starting (TypeORM's retries);
   * one-shot commands fail at once with the reason instead.
   */
  static forRoot(options: { retryConnect?: boolean } = {}): DynamicModule {
    const retry = options.retryConnect !== false;
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({
            ...buildDataSourceOptions(config.database),
            autoLoadEntities: true,
            retryAttempts: retry ? 9 : 0,
            retryDelay: 3000,
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
    };
  }
}
