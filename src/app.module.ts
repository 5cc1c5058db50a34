import { DynamicModule, Global, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AlertsModule } from './alerts/alerts.module';
import { AuthModule } from './auth/auth.module';
import { TwoFactorModule } from './auth/two-factor/two-factor.module';
import { ChatModule } from './chat/chat.module';
import { CommandRunner, ExecFileCommandRunner } from './common/command-runner';
import { LoggingModule } from './common/logging.module';
import { OpsEvents } from './common/ops-events';
import { AdminConsoleModule } from './admin-console/admin-console.module';
import { LiveConfiguration } from './config/configuration';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { CertsModule } from './ops/certs/certs.module';
import { VpnModule } from './ops/vpn/vpn.module';

/**
 * Process-wide providers: each feature's validated configuration (read once, before Nest starts),
 * the command runner, the ops event bus.
 */
@Global()
@Module({})
class CoreModule {
  static register(config: LiveConfiguration): DynamicModule {
    const configs = [
      config.app,
      config.chat,
      config.alerts,
      config.metrics,
      config.certs,
      config.vpn,
      config.chatWebhook,
    ].map((part) => ({ provide: part.constructor, useValue: part }));
    return {
      module: CoreModule,
      providers: [...configs, { provide: CommandRunner, useClass: ExecFileCommandRunner }, OpsEvents],
      exports: [...configs.map((c) => c.provide), CommandRunner, OpsEvents],
    };
  }
}

export interface AppModuleOptions {
  /** Off for one-shot commands (manage), which must not start cron jobs. */
  schedule?: boolean;
  /** Off for one-shot commands: an unreachable database fails at once instead of being retried. */
  retryConnect?: boolean;
}

@Module({})
export class AppModule {
  static register(config: LiveConfiguration, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // First: its shutdown hook (the shutdown_complete line) then runs after every other module's.
        LoggingModule.forRoot(),
        CoreModule.register(config),
        ...(options.schedule === false ? [] : [ScheduleModule.forRoot()]),
        DatabaseModule.forRoot({ retryConnect: options.retryConnect }),
        HealthModule,
        MetricsModule,
        AuthModule,
        TwoFactorModule,
        ChatModule,
        CertsModule,
        AlertsModule,
        VpnModule,
        AdminConsoleModule,
      ],
    };
  }
}
