import { VpnConfig } from '../../ops/vpn/vpn.config';
import { checkNetwork, readOvpnEnv, renderServerConfig } from '../../ops/vpn/server-config';
import { ManageCommand, UsageError } from '../command';

/** Prints the OpenVPN server configuration for the local runner's PKI (stdout: redirect it to a file). */
export const vpnServerConfigCommand: ManageCommand = {
  name: 'vpn-server-config',
  summary:
    "prints an OpenVPN server config for the local runner's PKI, for openvpn-server@live (save as /etc/openvpn/server/live.conf)",
  declare: (command) =>
    command
      .option(
        '--management <address>',
        'open the management interface (as VPN_MANAGEMENT): 127.0.0.1:7505 or a unix socket path',
      )
      .option('--port <port>', 'listen on this port instead of the one vpn-init was given')
      .option('--network <cidr>', 'the VPN network instead of 192.168.255.0/24 (OVPN_SERVER)')
      .option('--disable-dco', 'without kernel data-channel offload (no ovpn-dco module, containers)')
      .option('--no-drop-privileges', 'keep running as root (no user nobody / group nogroup)'),
  async run(ctx) {
    const config = new VpnConfig(ctx.env, ctx.config.dataDir);
    if (config.runner !== 'local')
      throw new UsageError(
        'vpn-server-config is for VPN_RUNNER=local; with the docker runner the kylemanna/openvpn container serves ' +
          'its own config: docker run -v $OVPN_DATA:/etc/openvpn -d -p 1194:1194/udp --cap-add=NET_ADMIN kylemanna/openvpn',
      );
    const env = await readOvpnEnv(config.localDir);
    const port = ctx.options.port as string | undefined;
    if (port !== undefined) {
      if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
        throw new UsageError('--port must be a port number from 1 to 65535');
      env.port = Number(port);
    }
    const network = ctx.options.network as string | undefined;
    if (network !== undefined) env.network = checkNetwork(network);
    process.stdout.write(
      renderServerConfig({
        dir: config.localDir,
        env,
        management: ctx.options.management as string | undefined,
        disableDco: !!ctx.options.disableDco,
        dropPrivileges: ctx.options.dropPrivileges !== false,
      }),
    );
  },
};
