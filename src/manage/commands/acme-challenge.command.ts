import { applyChallenge } from '../../ops/certs/acme-hook.main';
import { ChallengeInputError } from '../../ops/certs/acme-challenge.store';
import { ManageCommand, UsageError } from '../command';

/**
 * Stores or removes one http-01 challenge in the shared database, from which every instance answers
 * `/.well-known/acme-challenge/<token>`: what certbot's manual hooks do (they run the lighter
 * src/ops/certs/acme-hook.main.ts), by hand. The options default to certbot's CERTBOT_TOKEN,
 * CERTBOT_VALIDATION and CERTBOT_DOMAIN.
 */
export const acmeChallengeCommand: ManageCommand = {
  name: 'acme-challenge',
  summary: 'store (put) or remove (delete) an http-01 challenge, as certbot’s manual hooks do',
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
    const validation = action === 'put' ? pick('validation', 'CERTBOT_VALIDATION') : undefined;
    const domain = action === 'put' ? pick('domain', 'CERTBOT_DOMAIN') : undefined;
    try {
      await applyChallenge(ctx.config, { action, token, validation, domain });
    } catch (err) {
      if (err instanceof ChallengeInputError) throw new UsageError(err.message);
      throw err;
    }
  },
};
