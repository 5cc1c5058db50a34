import { LoginThrottle } from '../../auth/login-throttle';
import { UsageError, ManageCommand } from '../command';

export const unlockCommand: ManageCommand = {
  name: 'unlock',
  summary: 'clears the failed logins of a username or an address (django-axes reset), lifting its lockouts',
  declare: (command) =>
    command.argument('<username-or-address>', 'a username, or a client address as the access log shows it'),
  async run(ctx) {
    const [value] = ctx.args;
    // A username may look like an address (Django allows 10.0.0.1): clear both readings.
    if (value.length > 150) throw new UsageError('a username or address is at most 150 characters');
    const { lockouts, failuresCleared } = await (
      await ctx.app()
    )
      .get(LoginThrottle)
      .unlock({ either: value }, 'manage');
    for (const l of lockouts)
      ctx.out(
        l.username === null
          ? `Unlocked address ${l.address} (${l.failures} failed logins).`
          : `Unlocked ${l.username} from ${l.address} (${l.failures} failed logins).`,
      );
    if (lockouts.length === 0) ctx.out(`No lockout for "${value}".`);
    ctx.out(`Cleared ${failuresCleared} failed login(s).`);
  },
};
