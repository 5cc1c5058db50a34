import { Injectable, Logger } from '@nestjs/common';

type DetailReader = (userId: number) => Promise<unknown>;

/**
 * What other features add to GET /admin/users/:id (the VPN clients a user owns), registered by
 * those features at start-up: auth does not import them (they import auth). A part that fails (the
 * VPN PKI unreadable) does not fail the user's page: it is null, and `unavailable` says why.
 */
@Injectable()
export class AdminUserDetails {
  private readonly logger = new Logger('AdminUserDetails');
  private readonly readers = new Map<string, DetailReader>();

  register(name: string, read: DetailReader): void {
    this.readers.set(name, read);
  }

  async of(userId: number): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    const unavailable: Record<string, string> = {};
    await Promise.all(
      [...this.readers].map(async ([name, read]) => {
        try {
          out[name] = await read(userId);
        } catch (err) {
          out[name] = null;
          unavailable[name] = (err as Error).message;
          this.logger.warn({
            event: 'user_detail_unavailable',
            part: name,
            user: userId,
            error: (err as Error).message,
          });
        }
      }),
    );
    return Object.keys(unavailable).length > 0 ? { ...out, unavailable } : out;
  }
}
