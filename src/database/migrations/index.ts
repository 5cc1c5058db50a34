import { CreateAuthTables1764000001000 } from './1764000001000-CreateAuthTables';

/** Every migration, in order. Listed explicitly so the app, the CLI and the tests run the same set. */
export const migrations = [CreateAuthTables1764000001000];
