import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors, STAFF_ERRORS } from '../../common/openapi';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { IdPipe } from '../../common/validation';
import { CurrentUser } from '../../auth/current-user.decorator';
import { AuthenticatedGuard, StaffGuard } from '../../auth/guards';
import type { User } from '../../auth/user.entity';
import { CreateVpnClientDto } from './vpn.dto';
import { VpnService } from './vpn.service';
import { OffboardingService } from './offboarding.service';
import { TokenScope } from '../../auth/tokens/scopes';

const idPipe = new IdPipe();

function sendProfile(res: Response, name: string, text: string): string {
  res.setHeader('Content-Type', 'application/x-openvpn-profile');
  res.setHeader('Content-Disposition', `attachment; filename="${name}.ovpn"`);
  res.setHeader('Cache-Control', 'no-store');
  return text;
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
    return this.vpn.create(body.name, user.username, body.user);
  }

  @Post('clients/:name/link')
  @ApiOperation({
    summary: 'A one-time download link for the client’s profile (valid 24 h, single use, audited)',
  })
  @ApiCreatedResponse({ description: '{url, path, expiresAt}: the URL is shown once' })
  @ApiErrors(400, 404, 410, 503)
  async link(@Param('name') name: string, @CurrentUser() user: User, @Req() req: Request) {
    const { token, expiresAt } = await this.vpn.createLink(name, user.username);
    const path = `/vpn/links/${token}`;
    return { url: `${req.protocol}://${req.get('host')}${path}`, path, expiresAt };
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
    return sendProfile(res, name, await this.vpn.profile(name, user.username));
  }

  @Delete('clients/:name')
  @ApiOperation({ summary: 'Revokes the client and regenerates the CRL' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404, 410, 503)
  @HttpCode(204)
  async revoke(@Param('name') name: string, @CurrentUser() user: User): Promise<void> {
    await this.vpn.revoke(name, user.username);
  }

  @Post('clients/:name/renew')
  @ApiOperation({
    summary: 'Re-issues the client under the same name: a new profile, the old certificate revoked (audited)',
  })
  @ApiCreatedResponse({ description: 'the client, with its new notBefore/notAfter' })
  @ApiErrors(400, 404, 410, 503)
  renew(@Param('name') name: string, @CurrentUser() user: User) {
    return this.vpn.renew(name, user.username);
  }

  @Get('certificates')
  @ApiOperation({
    summary: 'notAfter of the CA, the server certificate and each client, with state ok/expiring/expired',
  })
  @ApiErrors(503)
  certificates() {
    return this.vpn.certificates();
  }

  @Get('connections')
  @ApiOperation({
    summary: 'Connected clients from the OpenVPN management interface (VPN_MANAGEMENT)',
    description:
      '[{name, realAddress, vpnAddress, bytesIn, bytesOut, connectedSince, clientId}]; 503 with the reason when the interface is not configured or unreachable',
  })
  @ApiErrors(503)
  connections() {
    return this.vpn.connections();
  }

  @Delete('connections/:name')
  @ApiOperation({
    summary:
      'Disconnects the client (management `client-kill <cid> HALT` for each of its sessions); 404 when not connected',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404, 503)
  @HttpCode(204)
  async disconnect(@Param('name') name: string, @CurrentUser() user: User): Promise<void> {
    await this.vpn.disconnect(name, user.username);
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

@ApiTags('admin: vpn')
@ApiErrors(...STAFF_ERRORS)
@TokenScope('admin:vpn')
@Controller('admin/users')
@UseGuards(StaffGuard)
export class AdminUserVpnController {
  constructor(
    private readonly vpn: VpnService,
    private readonly offboarding: OffboardingService,
  ) {}

  @Get(':id/vpn-clients')
  @ApiOperation({ summary: 'The VPN clients a user owns' })
  @ApiErrors(400, 503)
  clients(@Param('id', idPipe) id: number) {
    return this.vpn.listOwnedBy(id);
  }

  @Get(':id/offboard')
  @TokenScope('admin:users')
  @ApiOperation({ summary: 'What offboarding would do now: {user, tokens, vpnClients}' })
  @ApiErrors(400, 404)
  offboardPlan(@Param('id', idPipe) id: number) {
    return this.offboarding.plan(id);
  }

  @Post(':id/offboard')
  @TokenScope('admin:users')
  @ApiOperation({
    summary: 'Offboards a user in one step',
    description:
      'Deactivates the account (its chat sockets close on every instance), ends every session, revokes every API token and every VPN client the user owns. Each item is tried and reported ({step, target, outcome: done|already|failed, detail}); `complete: false` means some failed and the same request retries them. One audit row (`offboard`) lists it all. Refused as a whole (400/403) for yourself or, for non-superusers, a staff account.',
  })
  @ApiOkResponse({ description: '{user, complete, items}' })
  @ApiErrors(400, 403, 404)
  @HttpCode(200)
  offboard(@Param('id', idPipe) id: number, @CurrentUser() me: User) {
    return this.offboarding.offboard(id, me);
  }
}

/** Self-service (VPN_SELF_SERVICE=true): a logged-in user's own clients; anyone else's is a 404. */
@ApiTags('vpn')
@Controller('me/vpn')
@UseGuards(AuthenticatedGuard)
export class MeVpnController {
  constructor(private readonly vpn: VpnService) {}

  @Get('clients')
  @ApiOperation({ summary: 'The VPN clients that belong to me' })
  @ApiErrors(401, 403, 503)
  clients(@CurrentUser() user: User) {
    return this.vpn.ownClients(user);
  }

  @Get('clients/:name/profile')
  @ApiOperation({ summary: 'The .ovpn profile of one of my clients' })
  @ApiProduces('application/x-openvpn-profile')
  @ApiErrors(400, 401, 403, 404, 410, 503)
  async profile(
    @Param('name') name: string,
    @CurrentUser() user: User,
    @Res({ passthrough: true }) res: Response,
  ): Promise<string> {
    return sendProfile(res, name, await this.vpn.ownProfile(user, name));
  }
}

/** The one-time links staff send: no login, the token is the credential. */
@ApiTags('vpn')
@Controller('vpn/links')
export class VpnLinkController {
  constructor(private readonly vpn: VpnService) {}

  @Get(':token')
  @ApiOperation({
    summary: 'Downloads the profile behind a one-time link (a second use or an expired link: 410)',
  })
  @ApiProduces('application/x-openvpn-profile')
  @ApiErrors(404, 410, 503)
  async download(@Param('token') token: string, @Res({ passthrough: true }) res: Response): Promise<string> {
    const { name, profile } = await this.vpn.redeemLink(token);
    return sendProfile(res, name, profile);
  }
}
