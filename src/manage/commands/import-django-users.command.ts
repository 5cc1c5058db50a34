import { readFile } from 'node:fs/promises';
import { DjangoDumpError, parseDjangoUserDump } from '../../auth/django-import';
import { UsersService } from '../../auth/users.service';
import { CommandError, ManageCommand } from '../command';

export const importDjangoUsersCommand: ManageCommand = {
  name: 'import-django-users',
  summary: 'import users from `manage.py dumpdata auth.user` output, keeping their password hashes',
  declare: (command) => command.argument('<file>', 'the JSON that dumpdata wrote'),
  async run(ctx) {
    const [file] = ctx.args;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CommandError(`cannot read ${file}: ${(err as Error).message}`);
    }
    let records;
    try {
      records = parseDjangoUserDump(text);
    } catch (err) {
      if (err instanceof DjangoDumpError) throw new CommandError(`${file}: ${err.message}; nothing imported`);
      throw err;
    }
    const { created, updated } = await (await ctx.app()).get(UsersService).importUsers(records);
    ctx.out(`Imported ${records.length} user(s) from ${file}: ${created} created, ${updated} updated.`);
  },
};
