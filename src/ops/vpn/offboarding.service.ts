import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { updateRefusal } from '../../auth/account-rules';
import { SessionStore } from '../../auth/session.store';
import { ApiTokenStore } from '../../auth/tokens/api-token.store';
import type { User } from '../../auth/user.entity';
import { UsersService } from '../../auth/users.service';
import { VpnAudit } from './vpn-audit.entity';
import { VpnService } from './vpn.service';

export type OffboardStep = 'deactivate' | 'sessions' | 'tokens' | 'vpn';

export interface OffboardItem {
  step: OffboardStep;
  /** What the step acted on: a token id or a VPN client name; null for the account-wide steps. */
  target: string | null;
  outcome: 'done' | 'already' | 'failed';
  detail: string;
}

export interface OffboardResult {
  user: { id: number; username: string };
  /** Every item done (or already so); false: retry the same request for the ones that failed. */
  complete: boolean;
  items: OffboardItem[];
}

/** What offboarding would do now, for the console's confirmation. */
export interface OffboardPlan {
  user: { id: number; username: string; isActive: boolean };
  tokens: number;
  vpnClients: string[];
}

/**
 * "Take away everything they had" in one request: deactivate the account (which closes its chat
 * sockets on every instance), end every session, revoke every API token, revoke every VPN client
 * they own. Each item is tried even when another failed, reported one by one, and idempotent, so
 * the same request is the retry. One audit row lists it all (live_vpn_audit, action `offboard`).
 */
@Injectable()
export class OffboardingService {
  private readonly logger = new Logger('Offboarding');

  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionStore,
    private readonly tokens: ApiTokenStore,
    private readonly vpn: VpnService,
    @InjectRepository(VpnAudit) private readonly audit: Repository<VpnAudit>,
  ) {}

  async plan(id: number): Promise<OffboardPlan> {
    const user = await this.users.get(id);
    const [tokens, clients] = await Promise.all([
      this.tokens.list(id),
      this.vpn.listOwnedBy(id).catch(() => []),
    ]);
    return {
      user: { id: user.id, username: user.username, isActive: user.isActive },
      tokens: tokens.length,
      vpnClients: clients.filter((c) => c.status === 'VALID').map((c) => c.name),
    };
  }

  async offboard(id: number, by: User): Promise<OffboardResult> {
    const user = await this.users.get(id);
    // Refused as a whole (yourself, a staff account without being superuser) before anything is done.
    const refusal = updateRefusal(by, user, { isActive: false });
    if (refusal) throw refusal;
    const items: OffboardItem[] = [];
    const attempt = async (step: OffboardStep, target: string | null, fn: () => Promise<OffboardItem>) => {
      try {
        items.push(await fn());
      } catch (err) {
        items.push({ step, target, outcome: 'failed', detail: (err as Error).message });
      }
    };

    await attempt('deactivate', null, async () => {
      if (!user.isActive)
        return { step: 'deactivate', target: null, outcome: 'already', detail: 'not active' };
      await this.users.update(id, { isActive: false }, by);
      return {
        step: 'deactivate',
        target: null,
        outcome: 'done',
        detail: 'deactivated; chat sockets closed',
      };
    });
    await attempt('sessions', null, async () => {
      const ended = await this.sessions.endAllOf(id);
      return {
        step: 'sessions',
        target: null,
        outcome: ended > 0 ? 'done' : 'already',
        detail: `${ended} session${ended === 1 ? '' : 's'} ended`,
      };
    });
    const failedList = (step: OffboardStep) => (err: Error) => {
      items.push({ step, target: null, outcome: 'failed', detail: `could not list them: ${err.message}` });
      return null;
    };
    const tokenList = await this.tokens.list(id).catch(failedList('tokens'));
    if (tokenList?.length === 0)
      items.push({ step: 'tokens', target: null, outcome: 'already', detail: 'no API tokens' });
    for (const view of tokenList ?? [])
      await attempt('tokens', String(view.id), async () => {
        const token = await this.tokens.get(view.id);
        if (!token)
          return { step: 'tokens', target: String(view.id), outcome: 'already', detail: 'already gone' };
        await this.tokens.revoke(token, by);
        return { step: 'tokens', target: String(view.id), outcome: 'done', detail: `revoked "${view.name}"` };
      });
    const clients = await this.vpn.listOwnedBy(id).catch(failedList('vpn'));
    if (clients?.length === 0)
      items.push({ step: 'vpn', target: null, outcome: 'already', detail: 'no VPN clients' });
    for (const client of clients ?? [])
      await attempt('vpn', client.name, async () => {
        if (client.status !== 'VALID')
          return {
            step: 'vpn',
            target: client.name,
            outcome: 'already',
            detail: client.status.toLowerCase(),
          };
        await this.vpn.revoke(client.name, by.username);
        return { step: 'vpn', target: client.name, outcome: 'done', detail: 'revoked' };
      });

    const complete = items.every((i) => i.outcome !== 'failed');
    const result: OffboardResult = { user: { id: user.id, username: user.username }, complete, items };
    await this.audit.insert({
      at: Date.now(),
      actor: by.username,
      action: 'offboard',
      clientName: null,
      outcome: complete ? 'ok' : 'failed',
      detail: summary(result),
    });
    this.logger.log({ event: 'user_offboarded', user: user.username, by: by.username, complete, items });
    return result;
  }
}

/** One line per item, readable in the audit table: `user ann (#5): deactivate done; vpn ann-laptop failed: …`. */
export function summary(result: OffboardResult): string {
  const parts = result.items.map(
    (i) => `${i.step}${i.target ? ` ${i.target}` : ''} ${i.outcome}${i.detail ? `: ${i.detail}` : ''}`,
  );
  return `user ${result.user.username} (#${result.user.id}): ${parts.join('; ')}`;
}
