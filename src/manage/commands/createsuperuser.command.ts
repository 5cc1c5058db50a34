import { validate } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { CreateUserDto } from '../../auth/users.dto';
import { UsersService } from '../../auth/users.service';
import { ManageCommand, newPassword, UsageError } from '../command';

export const createSuperuserCommand: ManageCommand = {
  name: 'createsuperuser',
  summary: 'create a staff superuser (password from LIVE_PASSWORD or asked on the terminal)',
  declare: (command) =>
    command
      .requiredOption('--username <username>', 'the new user’s name')
      .option('--email <email>', 'their email address'),
  async run(ctx) {
    const { username, email = '' } = ctx.options as { username: string; email?: string };
    const dto = plainToInstance(CreateUserDto, { username, email, isStaff: true, isSuperuser: true });
    const errors = await validate(dto);
    if (errors.length > 0) throw new UsageError(Object.values(errors[0].constraints ?? {}).join('; '));
    dto.password = await newPassword(ctx, username);
    await (await ctx.app()).get(UsersService).create(dto);
    ctx.out(`Superuser "${username}" created.`);
  },
};
