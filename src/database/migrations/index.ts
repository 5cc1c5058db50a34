import { CreateAuthTables1764000001000 } from './1764000001000-CreateAuthTables';
import { CreateVpnTables1764000003000 } from './1764000003000-CreateVpnTables';
import { CreateChatMessages1764000004000 } from './1764000004000-CreateChatMessages';

/** Every migration, in order. Listed explicitly so the app, the CLI and the tests run the same set. */
export const migrations = [
  CreateAuthTables1764000001000,
  CreateVpnTables1764000003000,
  CreateChatMessages1764000004000,
];
