import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRequestException, Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../../common/openapi';
import { CertsConfig } from './certs.config';

/** ACME tokens are base64url: anything else never reaches the file system. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * Serves certbot's webroot challenge files, so http-01 validation works against live itself with
 * no web server plug-in. Public, like the ACME protocol wants it.
 */
@ApiTags('acme')
@Controller('.well-known/acme-challenge')
export class AcmeChallengeController {
  constructor(private readonly config: CertsConfig) {}

  @Get(':token')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'An http-01 challenge response written by certbot (public)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'the key authorization, as text' })
  @ApiErrors(400, 404)
  async challenge(@Param('token') token: string, @Res({ passthrough: true }) res: Response): Promise<string> {
    if (!TOKEN_PATTERN.test(token)) throw new BadRequestException('Invalid ACME token');
    let text: string;
    try {
      text = await readFile(join(this.config.webroot, '.well-known', 'acme-challenge', token), 'utf8');
    } catch {
      throw new NotFoundException('No such ACME challenge');
    }
    // Set here, not with @Header: that would label the JSON error bodies text/plain too.
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    return text;
  }
}
