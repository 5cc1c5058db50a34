import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminUserDetails } from '../../auth/admin-user-details';
import { AuthModule } from '../../auth/auth.module';
import { CommandRunner } from '../../common/command-runner';
import { DockerVpnRunner } from './docker-vpn.runner';
import { LocalVpnRunner } from './local-vpn.runner';
import { User } from '../../auth/user.entity';
import { VpnAudit, VpnClientMeta, VpnDownloadLink } from './vpn-audit.entity';
import { VpnCrlJob } from './vpn-crl.job';
import { VpnRunner } from './vpn-runner';
import { VpnConfig } from './vpn.config';
import { AdminUserVpnController, MeVpnController, VpnController, VpnLinkController } from './vpn.controller';
import { VpnService } from './vpn.service';
import { OffboardingService } from './offboarding.service';

@Module({
  imports: [TypeOrmModule.forFeature([VpnAudit, VpnClientMeta, VpnDownloadLink, User]), AuthModule],
  controllers: [VpnController, AdminUserVpnController, MeVpnController, VpnLinkController],
  providers: [
    {
      provide: VpnRunner,
      useFactory: (config: VpnConfig, commands: CommandRunner) =>
        config.runner === 'local'
          ? new LocalVpnRunner(config, commands)
          : new DockerVpnRunner(config, commands),
      inject: [VpnConfig, CommandRunner],
    },
    VpnService,
    VpnCrlJob,
    OffboardingService,
  ],
  exports: [VpnService, VpnCrlJob, VpnRunner],
})
export class VpnModule implements OnModuleInit {
  constructor(
    private readonly details: AdminUserDetails,
    private readonly vpn: VpnService,
  ) {}

  /** GET /admin/users/:id shows the VPN clients the user owns. */
  onModuleInit(): void {
    this.details.register('vpnClients', (userId) => this.vpn.listOwnedBy(userId));
  }
}
