import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRequestException, Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../../common/openapi';
import { AcmeChallengeStore, TOKEN_PATTERN } from './acme-challenge.store';
import { CertsConfig } from './certs.config';

/**
 * Answers http-01 validation requests on every instance: the challenges certbot's hooks put in the
 * shared database (so Let's Encrypt may reach any instance behind a load balancer), then, for
 * lineages obtained before live used those hooks, certbot's webroot files. Public, as ACME wants it.
 */
@ApiTags('acme')
@Controller('.well-known/acme-challenge')
export class AcmeChallengeController {
  constructor(
    private readonly config: CertsConfig,
    private readonly challenges: AcmeChallengeStore,
  ) {}

  @Get(':token')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'An http-01 challenge response stored by certbot’s hooks (public)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'the key authorization, as text' })
  @ApiErrors(400, 404, 503)
  async challenge(@Param('token') token: string, @Res({ passthrough: true }) res: Response): Promise<string> {
    if (!TOKEN_PATTERN.test(token)) throw new BadRequestException('Invalid ACME token');
    const text = (await this.challenges.get(token)) ?? (await this.fromWebroot(token));
    if (text === null) throw new NotFoundException('No such ACME challenge');
    // Set here, not with @Header: that would label the JSON error bodies text/plain too.
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    return text;
  }

  private async fromWebroot(token: string): Promise<string | null> {
    try {
      return await readFile(join(this.config.webroot, '.well-known', 'acme-challenge', token), 'utf8');
    } catch {
      return null;
    }
  }
}
