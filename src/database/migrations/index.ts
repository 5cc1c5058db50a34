import { CreateAuthTables1764000001000 } from './1764000001000-CreateAuthTables';
import { CreateCertRuns1764000002000 } from './1764000002000-CreateCertRuns';
import { CreateVpnTables1764000003000 } from './1764000003000-CreateVpnTables';
import { CreateChatMessages1764000004000 } from './1764000004000-CreateChatMessages';
import { CreateAlerts1764000005000 } from './1764000005000-CreateAlerts';
import { DjangoBridge1764000006000 } from './1764000006000-DjangoBridge';
import { CreateLoginFailures1764000007000 } from './1764000007000-CreateLoginFailures';
import { CreateTwoFactorTables1764000008000 } from './1764000008000-CreateTwoFactorTables';
import { CreateChatModeration1764000009000 } from './1764000009000-CreateChatModeration';
import { CreateApiTokens1764000010000 } from './1764000010000-CreateApiTokens';
import { AddChatMessageBot1764000011000 } from './1764000011000-AddChatMessageBot';
import { CreateChatTickets1764000012000 } from './1764000012000-CreateChatTickets';
import { CreateAcmeChallenges1764000013000 } from './1764000013000-CreateAcmeChallenges';
import { VpnClientOwners1764000014000 } from './1764000014000-VpnClientOwners';

/** Every migration, in order. Listed explicitly so the app, the CLI and the tests run the same set. */
export const migrations = [
  CreateAuthTables1764000001000,
  CreateCertRuns1764000002000,
  CreateVpnTables1764000003000,
  CreateChatMessages1764000004000,
  CreateAlerts1764000005000,
  DjangoBridge1764000006000,
  CreateLoginFailures1764000007000,
  CreateTwoFactorTables1764000008000,
  CreateChatModeration1764000009000,
  CreateApiTokens1764000010000,
  AddChatMessageBot1764000011000,
  CreateChatTickets1764000012000,
  CreateAcmeChallenges1764000013000,
  VpnClientOwners1764000014000,
];
