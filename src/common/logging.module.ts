import { DynamicModule, Global, Module } from '@nestjs/common';
import { ShutdownLog } from './shutdown-log';

/**
 * The shutdown lines. Global, and imported first by AppModule, so that its shutdown hook runs last.
 * The logger itself is given to NestFactory by createApp, and the access log middleware is installed
 * there ahead of every other middleware (static files and refusals get their line too).
 *
 * nestjs-pino's LoggerModule is deliberately not imported: its middleware runs every request inside
 * an AsyncLocalStorage to hand the app's lines the request's logger, and on Node 20 that turns on
 * async hooks for the whole process from the first request on. Measured with `npm run bench`:
 * scenario (c)'s connect rate fell from 0.84× to 0.72× the raw ws server's with it, 0.80× without.
 * The access line carries the request id; the app's own lines do not.
 */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(): DynamicModule {
    return {
      module: LoggingModule,
      providers: [ShutdownLog],
    };
  }
}
