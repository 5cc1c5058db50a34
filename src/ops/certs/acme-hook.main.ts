import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../config/app.config';
import { ConfigError } from '../../config/validate-env';
import { isDatabaseUnavailable } from '../../database/database-errors';
import { buildDataSourceOptions } from '../../database/data-source-options';
import { AcmeChallenge } from './acme-challenge.entity';
import { AcmeChallengeStore, ChallengeInputError } from './acme-challenge.store';

/** What the hook was asked to do: from certbot's CERTBOT_* variables, or given explicitly. */
export interface ChallengeAction {
  action: 'put' | 'delete';
  token: string;
  validation?: string;
  domain?: string;
}

/** Stores or removes one challenge in the database `config` names (the shared work of both entries). */
export async function applyChallenge(config: AppConfig, request: ChallengeAction): Promise<void> {
  // Only the one table: no app to boot, so a hook costs a database connection, not live's start-up.
  const dataSource = await new DataSource({
    ...buildDataSourceOptions(config.database, config.databaseTimeouts),
    entities: [AcmeChallenge],
  }).initialize();
  try {
    const store = new AcmeChallengeStore(dataSource);
    if (request.action === 'put')
      await store.put(request.token, request.validation ?? '', request.domain ?? '');
    else await store.delete(request.token);
  } finally {
    await dataSource.destroy();
  }
}

/**
 * certbot's `--manual-auth-hook` / `--manual-cleanup-hook`: `node acme-hook.main.js put|delete`, the
 * challenge in CERTBOT_TOKEN, CERTBOT_VALIDATION, CERTBOT_DOMAIN. `manage acme-challenge` does the
 * same from a shell; this entry loads only the configuration and the one table (about half the start
 * of `manage`, which loads every module), and says nothing when it worked (certbot shows a hook's
 * output). Exit codes as manage's: 2 bad input or configuration, 3 database unavailable, 1 otherwise.
 */
export async function runAcmeHook(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [action] = argv;
  if (argv.length !== 1 || (action !== 'put' && action !== 'delete')) {
    process.stderr.write(
      'usage: acme-hook put|delete (the challenge in CERTBOT_TOKEN, CERTBOT_VALIDATION, CERTBOT_DOMAIN)\n',
    );
    return 2;
  }
  try {
    const missing = [
      'CERTBOT_TOKEN',
      ...(action === 'put' ? ['CERTBOT_VALIDATION', 'CERTBOT_DOMAIN'] : []),
    ].filter((name) => !env[name]);
    if (missing.length) throw new ChallengeInputError(`${missing.join(', ')} not set (certbot sets them)`);
    await applyChallenge(new AppConfig(env), {
      action,
      token: env.CERTBOT_TOKEN!,
      validation: env.CERTBOT_VALIDATION,
      domain: env.CERTBOT_DOMAIN,
    });
    return 0;
  } catch (err) {
    process.stderr.write(`acme-challenge ${action}: ${(err as Error).message}\n`);
    if (err instanceof ChallengeInputError || err instanceof ConfigError) return 2;
    return isDatabaseUnavailable(err) ? 3 : 1;
  }
}

if (require.main === module) {
  void runAcmeHook(process.argv.slice(2), process.env).then((code) => process.exit(code));
}
