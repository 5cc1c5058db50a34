import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../../database/data-source-options';
import { AcmeChallenge } from '../../ops/certs/acme-challenge.entity';
import { AcmeChallengeStore, ChallengeInputError } from '../../ops/certs/acme-challenge.store';
import { ManageCommand, UsageError } from '../command';

/**
 * certbot's `--manual-auth-hook` / `--manual-cleanup-hook` (live passes them; see CertbotDriver):
 * stores or removes one http-01 challenge in the shared database, from which every instance answers
 * `/.well-known/acme-challenge/<token>`. certbot gives the challenge in CERTBOT_TOKEN,
 * CERTBOT_VALIDATION and CERTBOT_DOMAIN; the options override them. Silent when it worked (certbot
 * shows a hook's output to the user).
 */
export const acmeChallengeCommand: ManageCommand = {
  name: 'acme-challenge',
  summary: 'store (put) or remove (delete) an http-01 challenge: certbot’s manual hooks run it',
  declare: (command) =>
    command
      .argument('<action>', 'put or delete')
      .option('--token <token>', 'the challenge token (default: $CERTBOT_TOKEN)')
      .option('--validation <text>', 'the key authorization, for put (default: $CERTBOT_VALIDATION)')
      .option('--domain <name>', 'the domain being validated, for put (default: $CERTBOT_DOMAIN)'),
  async run(ctx) {
    const [action] = ctx.args;
    if (action !== 'put' && action !== 'delete') throw new UsageError('the action is put or delete');
    const pick = (option: string, variable: string): string => {
      const value = (ctx.options[option] as string | undefined) ?? ctx.env[variable];
      if (!value) throw new UsageError(`--${option} (or ${variable}) is required`);
      return value;
    };
    const token = pick('token', 'CERTBOT_TOKEN');
    const validation = action === 'put' ? pick('validation', 'CERTBOT_VALIDATION') : '';
    const domain = action === 'put' ? pick('domain', 'CERTBOT_DOMAIN') : '';
    // Only the one table: no app to boot, so each hook costs about a second, not the whole app's start.
    const dataSource = await new DataSource({
      ...buildDataSourceOptions(ctx.config.database, ctx.config.databaseTimeouts),
      entities: [AcmeChallenge],
    }).initialize();
    try {
      const store = new AcmeChallengeStore(dataSource);
      if (action === 'put') await store.put(token, validation, domain);
      else await store.delete(token);
    } catch (err) {
      if (err instanceof ChallengeInputError) throw new UsageError(err.message);
      throw err;
    } finally {
      await dataSource.destroy();
    }
  },
};
