import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadRequestException, Controller, Get, Header, NotFoundException, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @Header('Content-Type', 'text/plain; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'An http-01 challenge response written by certbot (public)' })
  @ApiOkResponse({ description: 'the key authorization, as text' })
  @ApiErrors(400, 404)
  async challenge(@Param('token') token: string): Promise<string> {
    if (!TOKEN_PATTERN.test(token)) throw new BadRequestException('Invalid ACME token');
    try {
      return await readFile(join(this.config.webroot, '.well-known', 'acme-challenge', token), 'utf8');
    } catch {
      throw new NotFoundException('No such ACME challenge');
    }
  }
}
