import { ManageCommand } from '../command';
import { acmeChallengeCommand } from './acme-challenge.command';
import { changePasswordCommand } from './changepassword.command';
import { clearSessionsCommand } from './clearsessions.command';
import { createSuperuserCommand } from './createsuperuser.command';
import { importDjangoUsersCommand } from './import-django-users.command';
import { migrateCommand } from './migrate.command';
import { renewCertsCommand } from './renew-certs.command';
import { reset2faCommand } from './reset-2fa.command';
import { createTokenCommand, revokeTokenCommand } from './tokens.command';
import { unlockCommand } from './unlock.command';
import { vpnInitCommand } from './vpn-init.command';
import { vpnServerConfigCommand } from './vpn-server-config.command';

/** Every manage command; a new one is a file in this folder and a line here. */
export const commands: ManageCommand[] = [
  migrateCommand,
  createSuperuserCommand,
  changePasswordCommand,
  clearSessionsCommand,
  importDjangoUsersCommand,
  renewCertsCommand,
  unlockCommand,
  vpnInitCommand,
  vpnServerConfigCommand,
  reset2faCommand,
  createTokenCommand,
  revokeTokenCommand,
  acmeChallengeCommand,
];
