import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../../auth/current-user.decorator';
import { StaffGuard } from '../../auth/guards';
import { User } from '../../auth/user.entity';
import { ApiErrors, STAFF_ERRORS } from '../../common/openapi';
import { IdPipe } from '../../common/validation';
import { CertRun } from './cert-run.entity';
import { CertsConfig } from './certs.config';
import { ObtainCertDto, RenewCertsDto, RunsQuery } from './certs.dto';
import { CertsService, CertView } from './certs.service';
import { TokenScope } from '../../auth/tokens/scopes';

/** Ids are int4 primary keys: 1 to 2147483647, anything else is a 400 before the database. */
const idPipe = new IdPipe();

@ApiTags('admin: certificates')
@ApiErrors(...STAFF_ERRORS)
@UseGuards(StaffGuard)
@TokenScope('admin:certs')
@Controller('admin/certs')
export class CertsController {
  constructor(
    private readonly certs: CertsService,
    private readonly config: CertsConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Certificates certbot holds: domains, issuer, dates, lifetime, status, staging, whether served',
  })
  @ApiOkResponse({
    description: '{certificates: [...], schedule, warnFraction, warnDays, staging, checkAddress, lastRuns}',
  })
  async inventory(): Promise<{
    certificates: CertView[];
    schedule: string | null;
    warnFraction: number;
    warnDays: number | null;
    staging: boolean;
    checkAddress: string | null;
    lastRuns: CertRun[];
  }> {
    const [certificates, lastRuns] = await Promise.all([this.certs.list(), this.certs.recentRuns(5)]);
    const check = this.config.checkAddress;
    return {
      certificates,
      schedule: this.config.renewCron,
      warnFraction: this.config.warnFraction,
      warnDays: this.config.warnDays,
      staging: this.config.staging,
      checkAddress: check === 'off' ? 'off' : check ? `${check.host}:${check.port}` : null,
      lastRuns,
    };
  }

  @Post('check')
  @HttpCode(200)
  @ApiOperation({ summary: 'Checks now that each certificate’s domains serve the certificate certbot holds' })
  @ApiOkResponse({ description: '{certificates: [...]} with each one’s deployment' })
  async check(): Promise<{ certificates: CertView[] }> {
    return { certificates: await this.certs.checkDeployed() };
  }

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Obtains a certificate (certbot certonly --manual, http-01 answered by any instance from the database)',
  })
  @ApiAcceptedResponse({ description: '{runId}: follow it at /admin/certs/runs/{runId}' })
  @ApiErrors(400, 409)
  async obtain(@Body() dto: ObtainCertDto, @CurrentUser() user: User): Promise<{ runId: number }> {
    const started = await this.certs.start('obtain', {
      trigger: 'manual',
      by: user.username,
      domains: dto.domains,
      email: dto.email,
      staging: dto.staging,
    });
    return { runId: started!.run.id };
  }

  @Post('renew')
  @HttpCode(202)
  @ApiOperation({ summary: 'Runs certbot renew now (force: renew even what is not due)' })
  @ApiAcceptedResponse({ description: '{runId}' })
  @ApiErrors(400, 409)
  async renew(@Body() dto: RenewCertsDto, @CurrentUser() user: User): Promise<{ runId: number }> {
    const started = await this.certs.start('renew', {
      trigger: 'manual',
      by: user.username,
      force: dto.force,
    });
    return { runId: started!.run.id };
  }

  @Get('runs')
  @ApiOperation({ summary: 'Recent certificate runs, newest first' })
  @ApiErrors(400)
  runs(@Query() query: RunsQuery): Promise<CertRun[]> {
    return this.certs.recentRuns(query.limit ?? 20);
  }

  @Get('runs/:id')
  @ApiOperation({ summary: 'One run: outcome, names renewed and failed, output tail' })
  @ApiErrors(400, 404)
  run(@Param('id', idPipe) id: number): Promise<CertRun> {
    return this.certs.run(id);
  }
}
