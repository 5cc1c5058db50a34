import { ApiTokenStore } from '../../auth/tokens/api-token.store';
import { isTokenScope, TOKEN_SCOPES, TokenScope } from '../../auth/tokens/scopes';
import { UsersService } from '../../auth/users.service';
import { CommandError, ManageCommand, UsageError } from '../command';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * A token for scripts (DRF's drf_create_token): the key alone on stdout, so
 * `KEY=$(npm run -s manage -- create-token ci --scope chat:publish)` works; what it is on stderr.
 */
export const createTokenCommand: ManageCommand = {
  name: 'create-token',
  summary: 'makes an API token for a user and prints its key (shown once; only a hash is kept)',
  declare: (command) =>
    command
      .argument('<username>', 'the user the token acts as')
      .option('--scope <scope>', `a scope, repeatable: ${TOKEN_SCOPES.join(', ')}`, collect)
      .option('--name <name>', 'what the token is for (shown in lists)', 'manage create-token')
      .option('--expires-days <days>', 'days until it expires (default: never)'),
  async run(ctx) {
    const [username] = ctx.args;
    const scopes = (ctx.options.scope as string[] | undefined) ?? [];
    if (scopes.length === 0) throw new UsageError(`give at least one --scope (${TOKEN_SCOPES.join(', ')})`);
    const unknown = scopes.filter((s) => !isTokenScope(s));
    if (unknown.length > 0)
      throw new UsageError(`unknown scope ${unknown.join(', ')}; scopes are ${TOKEN_SCOPES.join(', ')}`);
    const name = String(ctx.options.name);
    if (!/^[^\p{Cc}\p{Cf}]{1,100}$/u.test(name))
      throw new UsageError('--name must be 1 to 100 printable characters');
    const days = ctx.options.expiresDays as string | undefined;
    if (days !== undefined && !(/^\d{1,4}$/.test(days) && Number(days) >= 1 && Number(days) <= 3650))
      throw new UsageError('--expires-days must be an integer from 1 to 3650');
    const app = await ctx.app();
    const user = await app.get(UsersService).findByUsername(username);
    if (!user) throw new CommandError(`no user named "${username}"`);
    const { key, token } = await app.get(ApiTokenStore).create({
      user,
      name,
      scopes: scopes as TokenScope[],
      expiresInDays: days === undefined ? null : Number(days),
      createdBy: null,
    });
    process.stderr.write(
      `Token ${token.id} "${token.name}" for user "${username}", scopes ${token.scopes.join(' ')}, ` +
        `${token.expiresAt ? `expires ${token.expiresAt}` : 'never expires'}. Send it as "Authorization: Token <key>".\n`,
    );
    ctx.out(key);
  },
};

/** Revokes a token by id (offboarding scripts): its requests and sockets stop at once. */
export const revokeTokenCommand: ManageCommand = {
  name: 'revoke-token',
  summary: 'revokes an API token by its id (see GET /admin/tokens): its requests and sockets stop at once',
  declare: (command) => command.argument('<id>', 'the token id'),
  async run(ctx) {
    const [raw] = ctx.args;
    if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2_147_483_647)
      throw new UsageError('the token id must be an integer from 1 to 2147483647');
    const app = await ctx.app();
    const tokens = app.get(ApiTokenStore);
    const token = await tokens.get(Number(raw));
    if (!token) throw new CommandError(`no token with id ${raw}`);
    await tokens.revoke(token, 'manage revoke-token');
    ctx.out(`Token ${raw} "${token.name}" revoked.`);
  },
};
