import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { IsString, Matches } from 'class-validator';
import { CurrentUser } from '../../auth/current-user.decorator';
import { StaffGuard } from '../../auth/guards';
import type { User } from '../../auth/user.entity';
import { CLIENT_NAME } from './vpn-runner';
import { VpnService } from './vpn.service';

export class CreateVpnClientDto {
  @IsString()
  @Matches(CLIENT_NAME, {
    message: 'name must be 1-64 characters of A-Za-z0-9_.- starting with a letter or digit',
  })
  name!: string;
}

@Controller('admin/vpn')
@UseGuards(StaffGuard)
export class VpnController {
  constructor(private readonly vpn: VpnService) {}

  @Post('clients')
  create(@Body() body: CreateVpnClientDto, @CurrentUser() user: User) {
    return this.vpn.create(body.name, user.username);
  }

  @Get('clients')
  list() {
    return this.vpn.list();
  }

  @Get('clients/:name/profile')
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
  @HttpCode(204)
  async revoke(@Param('name') name: string, @CurrentUser() user: User): Promise<void> {
    await this.vpn.revoke(name, user.username);
  }

  @Get('audit')
  audit() {
    return this.vpn.auditLog();
  }

  @Get('status')
  status() {
    return this.vpn.status();
  }
}
