import { validate } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { CreateUserDto } from '../../auth/users.dto';
import { UsersService } from '../../auth/users.service';
import { DomainException } from '../../common/domain.exception';
import { CommandError, ManageCommand, newPassword, UsageError } from '../command';

export const createSuperuserCommand: ManageCommand = {
  name: 'createsuperuser',
  summary: 'create a staff superuser (password from LIVE_PASSWORD or asked on the terminal)',
  usage: 'createsuperuser --username U [--email E]',
  options: { username: { type: 'string' }, email: { type: 'string' } },
  async run(ctx) {
    const username = ctx.values.username;
    if (typeof username !== 'string' || !username) throw new UsageError('--username is required');
    const email = typeof ctx.values.email === 'string' ? ctx.values.email : '';
    const dto = plainToInstance(CreateUserDto, { username, email, isStaff: true, isSuperuser: true });
    const errors = await validate(dto);
    if (errors.length > 0) throw new UsageError(Object.values(errors[0].constraints ?? {}).join('; '));
    dto.password = await newPassword(ctx, username);
    const users = (await ctx.app()).get(UsersService);
    try {
      await users.create(dto);
    } catch (err) {
      if (err instanceof DomainException) throw new CommandError(err.detail);
      throw err;
    }
    ctx.out(`Superuser "${username}" created.`);
  },
};
