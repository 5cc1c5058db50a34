import { SessionStore } from '../../auth/session.store';
import { ManageCommand } from '../command';

export const clearSessionsCommand: ManageCommand = {
  name: 'clearsessions',
  summary: 'delete expired sessions (a scheduled job does it hourly too)',
  async run(ctx) {
    const removed = await (await ctx.app()).get(SessionStore).purgeExpired();
    ctx.out(`Deleted ${removed} expired session(s).`);
  },
};
