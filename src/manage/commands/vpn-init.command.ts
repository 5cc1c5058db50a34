import { VpnService } from '../../ops/vpn/vpn.service';
import { DomainException } from '../../common/domain.exception';
import { CommandError, ManageCommand, UsageError } from '../command';

export const vpnInitCommand: ManageCommand = {
  name: 'vpn-init',
  summary: 'first VPN set-up: ovpn_genconfig -u URL + ovpn_initpki nopass (refuses an existing PKI)',
  usage: 'vpn-init --url udp://vpn.example.org:1194',
  options: { url: { type: 'string' } },
  async run(ctx) {
    const url = ctx.values.url;
    if (typeof url !== 'string' || !url)
      throw new UsageError('--url is required, e.g. udp://vpn.example.org:1194');
    try {
      await (await ctx.app()).get(VpnService).init(url, 'manage');
    } catch (err) {
      if (err instanceof DomainException) throw new CommandError(err.detail);
      throw err;
    }
    ctx.out(`VPN PKI initialised for ${url}.`);
  },
};
