import { join } from 'node:path';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { validateEnv } from '../../config/validate-env';

export class VpnEnv {
  @IsIn(['docker', 'local'], { message: 'VPN_RUNNER must be "docker" or "local"' })
  VPN_RUNNER: string = 'docker';

  @IsString()
  DOCKER_BIN: string = 'docker';

  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$|^\/[A-Za-z0-9_./-]+$/, {
    message: 'OVPN_DATA must be a docker volume name or an absolute path',
  })
  OVPN_DATA: string = 'ovpn-data-volume';

  @Matches(/^[A-Za-z0-9][A-Za-z0-9_./:@-]{0,255}$/, {
    message: 'OVPN_IMAGE must be a docker image reference',
  })
  OVPN_IMAGE: string = 'kylemanna/openvpn';

  @IsOptional()
  @IsString()
  VPN_LOCAL_DIR?: string;

  @IsString()
  EASYRSA_BIN: string = '/usr/share/easy-rsa/easyrsa';

  @IsString()
  OPENVPN_BIN: string = 'openvpn';

  @IsString()
  OPENSSL_BIN: string = 'openssl';

  @IsInt()
  @Min(1000, { message: 'VPN_TIMEOUT_MS must be an integer ≥ 1000' })
  VPN_TIMEOUT_MS: number = 120_000;

  @IsInt()
  @Min(1, { message: 'CRL_RENEW_DAYS must be a positive integer' })
  CRL_RENEW_DAYS: number = 30;

  @IsInt()
  @Min(0, { message: 'CRL_WARN_DAYS must be an integer ≥ 0' })
  CRL_WARN_DAYS: number = 7;

  @IsString()
  @Matches(/^(off|(\S+\s+){4,5}\S+)$/, { message: 'VPN_CRL_CRON must be a cron expression or "off"' })
  VPN_CRL_CRON: string = '17 3 * * *';

  @IsOptional()
  @Matches(/^(?:\[[0-9A-Fa-f:.]+\]|[0-9A-Za-z.-]{1,253}):[0-9]{1,5}$|^\/[A-Za-z0-9_./-]{1,200}$/, {
    message: 'VPN_MANAGEMENT must be host:port (like 127.0.0.1:7505) or the absolute path of a unix socket',
  })
  VPN_MANAGEMENT?: string;

  @IsBoolean({ message: 'VPN_SELF_SERVICE must be true or false' })
  VPN_SELF_SERVICE: boolean = false;

  @IsOptional()
  @IsInt({ message: 'VPN_CERT_WARN_DAYS must be an integer from 1 to 3650' })
  @Min(1, { message: 'VPN_CERT_WARN_DAYS must be an integer from 1 to 3650' })
  @Max(3650, { message: 'VPN_CERT_WARN_DAYS must be an integer from 1 to 3650' })
  VPN_CERT_WARN_DAYS?: number;
}

export class VpnConfig {
  readonly runner: 'docker' | 'local';
  readonly dockerBin: string;
  readonly ovpnData: string;
  readonly ovpnImage: string;
  readonly localDir: string;
  readonly easyrsaBin: string;
  readonly openvpnBin: string;
  readonly opensslBin: string;
  readonly timeoutMs: number;
  readonly crlRenewDays: number;
  readonly crlWarnDays: number;
  readonly crlCron: string | null;
  /** Users may list and download the profiles of the clients they own (/me/vpn/clients). */
  readonly selfService: boolean;
  /** A certificate is `expiring` within this many days of notAfter, or a third of its lifetime if longer. */
  readonly certWarnDays: number | null;
  /** The OpenVPN management interface (host:port or unix socket), or null: connections unknown. */
  readonly management: string | null;

  constructor(env: NodeJS.ProcessEnv | Record<string, string | undefined>, dataDir: string) {
    const e = validateEnv(VpnEnv, env);
    this.runner = e.VPN_RUNNER as 'docker' | 'local';
    this.dockerBin = e.DOCKER_BIN;
    this.ovpnData = e.OVPN_DATA;
    this.ovpnImage = e.OVPN_IMAGE;
    this.localDir = e.VPN_LOCAL_DIR ?? join(dataDir, 'openvpn');
    this.easyrsaBin = e.EASYRSA_BIN;
    this.openvpnBin = e.OPENVPN_BIN;
    this.opensslBin = e.OPENSSL_BIN;
    this.timeoutMs = e.VPN_TIMEOUT_MS;
    this.crlRenewDays = e.CRL_RENEW_DAYS;
    this.crlWarnDays = e.CRL_WARN_DAYS;
    this.crlCron = e.VPN_CRL_CRON === 'off' ? null : e.VPN_CRL_CRON;
    this.selfService = e.VPN_SELF_SERVICE;
    this.certWarnDays = e.VPN_CERT_WARN_DAYS ?? null;
    this.management = e.VPN_MANAGEMENT ?? null;
  }
}
