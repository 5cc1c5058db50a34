import { validate } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { CreateUserDto } from '../../auth/users.dto';
import { OPERATOR } from '../../auth/account-rules';
import { UsersService } from '../../auth/users.service';
import { CommandError, ManageCommand, newPassword, UsageError } from '../command';

export const createSuperuserCommand: ManageCommand = {
  name: 'createsuperuser',
  summary:
    "create a staff superuser (password from LIVE_PASSWORD or asked on the terminal; Django's validators apply)",
  declare: (command) =>
    command
      .requiredOption('--username <username>', 'the new user’s name')
      .option('--email <email>', 'their email address'),
  async run(ctx) {
    const { username, email = '' } = ctx.options as { username: string; email?: string };
    const dto = plainToInstance(CreateUserDto, { username, email, isStaff: true, isSuperuser: true });
    const errors = await validate(dto);
    if (errors.length > 0) throw new UsageError(Object.values(errors[0].constraints ?? {}).join('; '));
    const users = (await ctx.app()).get(UsersService);
    // Before asking for a password, as Django does: the name must be free.
    if (await users.findByUsername(username))
      throw new CommandError(`A user with username "${username}" already exists`);
    dto.password = await newPassword(ctx, username);
    await users.create(dto, OPERATOR);
    ctx.out(`Superuser "${username}" created.`);
  },
};
