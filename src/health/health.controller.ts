import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Controller, Get, Res } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { describeDatabaseError } from '../database/database-errors';
import { DatabaseWriteMonitor, monitorWrites } from '../database/write-monitor';
import { ComponentHealth, HealthRegistry } from './health.registry';
import { TokenScope } from '../auth/tokens/scopes';

interface HealthReport {
  status: 'ok' | 'degraded' | 'error';
  components: Record<string, ComponentHealth>;
}

/**
 * Each component's own deadline: a component that has not answered by then is reported down. All
 * are checked at once, so /health answers within about this long whatever hangs (a black-holed
 * database or Redis), well inside a load balancer's usual 5 s probe timeout.
 */
export const COMPONENT_DEADLINE_MS = 2000;

/** Runs one check with its deadline; an error or no answer in time is `down`. */
export async function settle(
  check: () => Promise<ComponentHealth>,
  deadlineMs: number,
): Promise<ComponentHealth> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ComponentHealth>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'down', detail: `no answer within ${deadlineMs} ms` }),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(check), late]);
  } catch (err) {
    return { status: 'down', detail: (err as Error)?.message ?? String(err) };
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@TokenScope('any')
@Controller('health')
export class HealthController {
  private readonly writes: DatabaseWriteMonitor;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: HealthRegistry,
  ) {
    this.writes = monitorWrites(dataSource);
  }

  @Get()
  @ApiOperation({
    summary:
      'Component health, each component checked at once with its own 2 s deadline: 200 ok/degraded, ' +
      '503 when a critical component (the database) is down',
  })
  @ApiResponse({ status: 200, description: '{status: ok|degraded, components: {name: {status, detail?}}}' })
  @ApiResponse({ status: 503, description: '{status: error, components} (Retry-After set)' })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    const contributors = this.registry.all();
    const [database, ...others] = await Promise.all([
      settle(() => this.checkDatabase(), COMPONENT_DEADLINE_MS),
      ...contributors.map((c) => settle(() => c.check(), COMPONENT_DEADLINE_MS)),
    ]);
    const components: Record<string, ComponentHealth> = {};
    if (database.status === 'down')
      database.detail = `Database unavailable: ${database.detail ?? 'not reachable'}`;
    components.database = database;
    let critical = database.status === 'down';
    for (const [i, c] of contributors.entries()) {
      components[c.name] = others[i];
      if (c.critical && others[i].status === 'down') critical = true;
    }
    const degraded = Object.values(components).some((c) => c.status !== 'up');
    res.status(critical ? 503 : 200);
    if (critical) res.setHeader('Retry-After', '5');
    return { status: critical ? 'error' : degraded ? 'degraded' : 'ok', components };
  }

  /** A trivial read; then whether writes have been failing (a full disk answers reads). */
  private async checkDatabase(): Promise<ComponentHealth> {
    try {
      await this.dataSource.query('SELECT 1');
    } catch (err) {
      return { status: 'down', detail: describeDatabaseError(err) };
    }
    const failing = this.writes.failingWrites();
    if (failing)
      return {
        status: 'degraded',
        detail: `writes failing: ${failing.reason} (last ${Math.round(failing.sinceMs / 1000)} s ago)`,
      };
    return { status: 'up' };
  }
}
