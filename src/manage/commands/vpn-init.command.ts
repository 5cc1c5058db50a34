import { VpnService } from '../../ops/vpn/vpn.service';
import { ManageCommand } from '../command';

export const vpnInitCommand: ManageCommand = {
  name: 'vpn-init',
  summary: 'first VPN set-up: ovpn_genconfig -u URL + ovpn_initpki nopass (refuses an existing PKI)',
  declare: (command) =>
    command.requiredOption('--url <url>', 'the server as clients reach it, e.g. udp://vpn.example.org:1194'),
  async run(ctx) {
    const url = ctx.options.url as string;
    await (await ctx.app()).get(VpnService).init(url, 'manage');
    ctx.out(`VPN PKI initialised for ${url}.`);
  },
};
