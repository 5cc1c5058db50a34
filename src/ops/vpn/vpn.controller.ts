import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOperation,
  ApiProduces,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../../common/openapi';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { IsString, Matches } from 'class-validator';
import { CurrentUser } from '../../auth/current-user.decorator';
import { StaffGuard } from '../../auth/guards';
import type { User } from '../../auth/user.entity';
import { CLIENT_NAME } from './vpn-runner';
import { VpnService } from './vpn.service';
import { TokenScope } from '../../auth/tokens/scopes';

export class CreateVpnClientDto {
  @ApiProperty({ example: 'alice', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' })
  @IsString()
  @Matches(CLIENT_NAME, {
    message: 'name must be 1-64 characters of A-Za-z0-9_.- starting with a letter or digit',
  })
  name!: string;
}

@ApiTags('admin: vpn')
@ApiErrors(...STAFF_ERRORS)
@TokenScope('admin:vpn')
@Controller('admin/vpn')
@UseGuards(StaffGuard)
export class VpnController {
  constructor(private readonly vpn: VpnService) {}

  @Post('clients')
  @ApiOperation({ summary: 'Creates a client certificate (easyrsa build-client-full NAME nopass)' })
  @ApiCreatedResponse({ description: '{name, status, notAfter}' })
  @ApiErrors(400, 409, 503)
  create(@Body() body: CreateVpnClientDto, @CurrentUser() user: User) {
    return this.vpn.create(body.name, user.username);
  }

  @Get('clients')
  @ApiOperation({ summary: 'Clients: name, status VALID/REVOKED/EXPIRED, dates, who created/revoked' })
  @ApiErrors(503)
  list() {
    return this.vpn.list();
  }

  @Get('clients/:name/profile')
  @ApiOperation({ summary: 'The client’s .ovpn profile (application/x-openvpn-profile attachment)' })
  @ApiProduces('application/x-openvpn-profile')
  @ApiErrors(400, 404, 410, 503)
  async profile(
    @Param('name') name: string,
    @CurrentUser() user: User,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    const text = await this.vpn.profile(name, user.username);
    res.setHeader('Content-Type', 'application/x-openvpn-profile');
    res.setHeader('Content-Disposition', `attachment; filename="${name}.ovpn"`);
    return text;
  }

  @Delete('clients/:name')
  @ApiOperation({ summary: 'Revokes the client and regenerates the CRL' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404, 410, 503)
  @HttpCode(204)
  async revoke(@Param('name') name: string, @CurrentUser() user: User): Promise<void> {
    await this.vpn.revoke(name, user.username);
  }

  @Get('audit')
  @ApiOperation({ summary: 'Who did what to which client, when, with what outcome (latest 200)' })
  audit() {
    return this.vpn.auditLog();
  }

  @Get('status')
  @ApiOperation({ summary: 'Runner, CRL next update, and the number of valid/revoked/expired clients' })
  @ApiErrors(503)
  status() {
    return this.vpn.status();
  }
}
