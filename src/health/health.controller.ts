import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Controller, Get, Res } from '@nestjs/common';
import { HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import { ComponentHealth, HealthRegistry } from './health.registry';

interface HealthReport {
  status: 'ok' | 'degraded' | 'error';
  components: Record<string, ComponentHealth>;
}

async function settle(check: () => Promise<ComponentHealth>, timeoutMs: number): Promise<ComponentHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ComponentHealth>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'down', detail: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([check(), timeout]);
  } catch (err) {
    return { status: 'down', detail: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly registry: HealthRegistry,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Component health: 200 ok/degraded, 503 when a critical component (the database) is down',
  })
  @ApiResponse({ status: 200, description: '{status: ok|degraded, components: {name: {status, detail?}}}' })
  @ApiResponse({ status: 503, description: '{status: error, components}' })
  async check(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    const components: Record<string, ComponentHealth> = {};
    let critical = false;
    components.database = await settle(async () => {
      await this.health.check([() => this.db.pingCheck('database', { timeout: 3000 })]);
      return { status: 'up' };
    }, 4000);
    if (components.database.status === 'down') {
      components.database.detail ??= 'database unreachable';
      critical = true;
    }
    for (const c of this.registry.all()) {
      components[c.name] = await settle(() => c.check(), 4000);
      if (c.critical && components[c.name].status === 'down') critical = true;
    }
    const degraded = Object.values(components).some((c) => c.status !== 'up');
    res.status(critical ? 503 : 200);
    return { status: critical ? 'error' : degraded ? 'degraded' : 'ok', components };
  }
}
