import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app.config';
import { DataSource, DataSourceOptions } from 'typeorm';
import { ClusterJobScheduler } from './cluster-job.scheduler';
import { buildDataSourceOptions } from './data-source-options';
import { DatabaseMode } from './database-mode';
import { IncompatibleDjangoDatabase } from './django-tables';
import { runMigrations } from './migrate';
import { JobLease } from './job-lease.entity';
import { JobLockService } from './job-lock.service';
import { monitorWrites } from './write-monitor';

@Global()
@Module({})
export class DatabaseModule {
  /**
   * `retryConnect`: the server waits for a database that is still starting (TypeORM's retries);
   * one-shot commands fail at once with the reason instead.
   */
  static forRoot(options: { retryConnect?: boolean } = {}): DynamicModule {
    const retry = options.retryConnect !== false;
    let secretKey: string | undefined; // for the migration that signs an old release's sessions
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => {
            secretKey = config.secretKey;
            return {
              ...buildDataSourceOptions(config.database, config.databaseTimeouts),
              autoLoadEntities: true,
              retryAttempts: retry ? 9 : 0,
              retryDelay: 3000,
              // Waiting is for a database that is still starting, not one with the wrong tables.
              toRetry: (err: unknown) => !(err instanceof IncompatibleDjangoDatabase),
            };
          },
          // Schema changes only through migrations, applied at start-up (one instance at a time).
          dataSourceFactory: async (options) => {
            const dataSourceOptions = options as DataSourceOptions;
            let dataSource: DataSource;
            if (dataSourceOptions.type === 'postgres') {
              // A migration may rightly outlast the query timeout (a big table, another instance
              // holding the migration lock): migrations get their own short-lived pool without it.
              const migrator = await new DataSource(withoutQueryTimeout(dataSourceOptions)).initialize();
              try {
                await runMigrations(migrator, secretKey);
              } finally {
                await migrator.destroy();
              }
              dataSource = await new DataSource(dataSourceOptions).initialize();
            } else {
              dataSource = await new DataSource(dataSourceOptions).initialize();
              await runMigrations(dataSource, secretKey);
            }
            monitorWrites(dataSource); // /health: degraded while writes fail (a full disk)
            return dataSource;
          },
        }),
        TypeOrmModule.forFeature([JobLease]),
      ],
      providers: [
        JobLockService,
        ClusterJobScheduler,
        {
          provide: DatabaseMode,
          inject: [DataSource],
          useFactory: (ds: DataSource) => DatabaseMode.detect(ds),
        },
      ],
      exports: [JobLockService, ClusterJobScheduler, DatabaseMode],
    };
  }
}

/** The same PostgreSQL options with no statement or query time limit (connect limits stay). */
function withoutQueryTimeout(options: DataSourceOptions & { type: 'postgres' }): DataSourceOptions {
  const extra = { ...(options.extra as Record<string, unknown> | undefined) };
  delete extra.statement_timeout;
  delete extra.query_timeout;
  return { ...options, entities: [], extra };
}
