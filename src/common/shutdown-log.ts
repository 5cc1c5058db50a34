import {
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleDestroy,
  ShutdownSignal,
} from '@nestjs/common';

/**
 * Says when a stop begins (`shutdown_started`) and when it is over (`shutdown_complete`).
 *
 * Nest runs onModuleDestroy (where chat drains its sockets) before any beforeApplicationShutdown, so
 * the start is logged from a signal listener put in front of Nest's own, or from onModuleDestroy when
 * the app is closed by code. The end is logged from onApplicationShutdown, which Nest calls after the
 * HTTP and WebSocket servers closed; LoggingModule is global and imported first, so this hook runs
 * after the other modules' (the database's included). Lines are written synchronously: the last one
 * is out before Nest re-raises the signal.
 */
@Injectable()
export class ShutdownLog implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private startedAt: number | null = null;
  private readonly listening: string[] = [];
  private readonly onSignal = (signal: NodeJS.Signals) => this.started(signal);

  onApplicationBootstrap(): void {
    for (const signal of Object.values(ShutdownSignal)) {
      // Only where a listener (Nest's enableShutdownHooks) already stops the process: a listener of
      // ours alone would keep the signal from ending it.
      if (process.listenerCount(signal) === 0) continue;
      process.prependOnceListener(signal, this.onSignal);
      this.listening.push(signal);
    }
  }

  onModuleDestroy(): void {
    this.started(null);
  }

  onApplicationShutdown(signal?: string): void {
    for (const s of this.listening) process.removeListener(s, this.onSignal);
    this.listening.length = 0;
    const durationMs = this.startedAt === null ? 0 : Math.round(performance.now() - this.startedAt);
    this.logger.log({ event: 'shutdown_complete', signal: signal ?? null, durationMs });
  }

  private started(signal: string | null): void {
    if (this.startedAt !== null) return;
    this.startedAt = performance.now();
    this.logger.log({ event: 'shutdown_started', signal });
  }
}
