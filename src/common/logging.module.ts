import { DynamicModule, Global, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app.config';
import { serverLogger } from './logging';
import { ShutdownLog } from './shutdown-log';

/**
 * nestjs-pino on the server's root logger, and the shutdown lines. The access log middleware itself
 * is installed by createApp ahead of every other middleware (static files and refusals get their
 * line too); LoggerModule only binds each request's logger for the app's own lines (`useExisting`).
 * Global, and imported first by AppModule, so that its shutdown hook runs last.
 */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger: serverLogger(config) }, useExisting: true })],
      providers: [ShutdownLog],
    };
  }
}
