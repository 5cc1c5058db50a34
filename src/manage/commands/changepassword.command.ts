import { UsersService } from '../../auth/users.service';
import { DomainException } from '../../common/domain.exception';
import { CommandError, ManageCommand, newPassword, UsageError } from '../command';

export const changePasswordCommand: ManageCommand = {
  name: 'changepassword',
  summary: "set a user's password (from LIVE_PASSWORD or asked); ends their sessions",
  usage: 'changepassword USERNAME',
  async run(ctx) {
    const [username, ...rest] = ctx.positionals;
    if (!username || rest.length > 0) throw new UsageError('give exactly one username');
    const users = (await ctx.app()).get(UsersService);
    if (!(await users.findByUsername(username))) throw new CommandError(`no user named "${username}"`);
    const password = await newPassword(ctx, username);
    try {
      await users.setPassword(username, password);
    } catch (err) {
      if (err instanceof DomainException) throw new CommandError(err.detail);
      throw err;
    }
    ctx.out(`Password changed for user "${username}".`);
  },
};
