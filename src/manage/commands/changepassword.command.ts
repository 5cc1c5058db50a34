import { OPERATOR } from '../../auth/account-rules';
import { UsersService } from '../../auth/users.service';
import { CommandError, ManageCommand, newPassword } from '../command';

export const changePasswordCommand: ManageCommand = {
  name: 'changepassword',
  summary:
    "set any user's password (from LIVE_PASSWORD or asked; Django's validators apply); ends their sessions",
  declare: (command) => command.argument('<username>', 'the user whose password changes'),
  async run(ctx) {
    const [username] = ctx.args;
    const users = (await ctx.app()).get(UsersService);
    // Before asking for a password that could not be used.
    if (!(await users.findByUsername(username))) throw new CommandError(`no user named "${username}"`);
    const password = await newPassword(ctx, username);
    await users.setPassword(username, password, OPERATOR);
    ctx.out(`Password changed for user "${username}".`);
  },
};
