import { ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../common/openapi';
import { Controller, Get, HttpCode, Post, Query, UseGuards } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { StaffGuard } from '../auth/guards';
import { Optional, toInt } from '../common/validation';
import { AlertResult, AlertsService, AlertView } from './alerts.service';
import { TokenScope } from '../auth/tokens/scopes';

export class AlertsQuery {
  @ApiPropertyOptional({ type: Number, minimum: 1, maximum: 500, default: 50 })
  @Optional()
  @Transform(toInt)
  @IsInt({ message: 'limit must be an integer 1..500' })
  @Min(1, { message: 'limit must be an integer 1..500' })
  @Max(500, { message: 'limit must be an integer 1..500' })
  limit?: number;
}

@ApiTags('admin: alerts')
@ApiErrors(...STAFF_ERRORS)
@TokenScope('admin:alerts')
@Controller('admin/alerts')
@UseGuards(StaffGuard)
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

  /** Newest first. */
  @Get()
  @ApiOperation({ summary: 'Alerts sent, failed or suppressed, per channel, newest first' })
  @ApiErrors(400)
  async list(@Query() query: AlertsQuery): Promise<{ alerts: AlertView[] }> {
    return { alerts: await this.alerts.list(query.limit ?? 50) };
  }

  /** Sends a test alert to every configured channel and reports each channel's outcome. */
  @Post('test')
  @ApiOperation({ summary: 'Sends a test alert to every configured channel; per-channel outcome' })
  @ApiErrors(409)
  @HttpCode(200)
  async test(): Promise<{ results: AlertResult[] }> {
    return { results: await this.alerts.sendTest() };
  }
}
