import { CertsService } from '../../ops/certs/certs.service';
import { CommandError, ManageCommand } from '../command';

export const renewCertsCommand: ManageCommand = {
  name: 'renew-certs',
  summary: 'run certbot renew now (recorded in the same history as scheduled runs)',
  declare: (command) => command.option('--force', 'renew every certificate, due or not'),
  async run(ctx) {
    const certs = (await ctx.app()).get(CertsService);
    const run = await certs.renewNow('manage', ctx.options.force === true);
    ctx.out(
      `Run ${run.id}: ${run.outcome}` +
        (run.renewed.length ? `; renewed ${run.renewed.join(', ')}` : '') +
        (run.failed.length ? `; failed ${run.failed.map((f) => `${f.name} (${f.reason})`).join(', ')}` : ''),
    );
    if (run.outcome === 'failed' || run.outcome === 'partial')
      throw new CommandError(`certificate renewal ${run.outcome}: ${run.reason ?? 'see the run output'}`);
  },
};
