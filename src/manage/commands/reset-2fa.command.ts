import { TwoFactorService } from '../../auth/two-factor/two-factor.service';
import { UsersService } from '../../auth/users.service';
import { CommandError, ManageCommand } from '../command';

export const reset2faCommand: ManageCommand = {
  name: 'reset-2fa',
  summary: "turns off a user's two-factor (a lost phone): their authenticator and recovery codes are removed",
  declare: (command) => command.argument('<username>', 'the user whose two-factor is turned off'),
  async run(ctx) {
    const [username] = ctx.args;
    const app = await ctx.app();
    const user = await app.get(UsersService).findByUsername(username);
    if (!user) throw new CommandError(`no user named "${username}"`);
    const removed = await app.get(TwoFactorService).reset(user);
    ctx.out(
      removed
        ? `Two-factor authentication turned off for user "${username}": they log in with their password and can set it up again.`
        : `User "${username}" had no two-factor authentication; nothing changed.`,
    );
  },
};
