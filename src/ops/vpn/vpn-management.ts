import { createConnection, Socket } from 'node:net';
import { VpnError } from './vpn.exception';

/** One connected client, from `status 3`'s CLIENT_LIST lines. */
export interface VpnConnection {
  name: string;
  realAddress: string;
  vpnAddress: string;
  bytesIn: number;
  bytesOut: number;
  connectedSince: string | null;
  clientId: number | null;
}

export type ManagementTarget = { host: string; port: number } | { path: string };

/** `host:port` (IPv6 in brackets) or an absolute unix socket path; null when the value is neither. */
export function parseManagementTarget(value: string): ManagementTarget | null {
  if (/^\/[A-Za-z0-9_./-]{1,200}$/.test(value)) return { path: value };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9A-Za-z.-]{1,253})):([0-9]{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

/**
 * `status 3` (tab separated): CLIENT_LIST, common name, real address, virtual address, virtual IPv6,
 * bytes received, bytes sent, connected since, connected since (time_t), username, client id, ….
 */
export function parseStatus(text: string): VpnConnection[] {
  const out: VpnConnection[] = [];
  for (const line of text.split('\n')) {
    const f = line.replace(/\r$/, '').split('\t');
    if (f[0] !== 'CLIENT_LIST' || f.length < 9) continue;
    const since = Number(f[8]);
    const id = Number(f[10]);
    out.push({
      name: f[1],
      realAddress: f[2],
      vpnAddress: f[3],
      bytesIn: Number(f[5]) || 0,
      bytesOut: Number(f[6]) || 0,
      connectedSince: Number.isFinite(since) && since > 0 ? new Date(since * 1000).toISOString() : null,
      clientId: Number.isInteger(id) ? id : null,
    });
  }
  return out;
}

const MAX_REPLY = 1024 * 1024;

/**
 * The OpenVPN management interface: one short connection per command (OpenVPN serves one management
 * client at a time, so holding one open would lock out an operator's telnet), with a timeout and a
 * reply cap. Commands are fixed words plus a name already checked against CLIENT_NAME.
 */
export class VpnManagement {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly target: ManagementTarget,
    private readonly timeoutMs: number,
  ) {}

  describe(): string {
    return 'path' in this.target ? this.target.path : `${this.target.host}:${this.target.port}`;
  }

  async connections(): Promise<VpnConnection[]> {
    return parseStatus(await this.command('status 3', (t) => /^END\r?$/m.test(t)));
  }

  /**
   * Disconnects every session of a common name: `client-kill <cid> HALT` for each (the client is told to
   * stop; `kill <cn>` would drop it without telling it, and a plain RESTART makes it reconnect at once).
   * Returns how many sessions were ended (0: not connected).
   */
  async kill(name: string): Promise<number> {
    const ids = (await this.connections()).filter((c) => c.name === name && c.clientId !== null);
    let killed = 0;
    for (const c of ids) {
      const reply = await this.command(`client-kill ${c.clientId} HALT`, (t) => /^(SUCCESS|ERROR):/m.test(t));
      if (/^SUCCESS:/m.test(reply)) killed += 1;
      else if (!/^ERROR:.*not found/im.test(reply))
        throw new VpnError('tool_failed', 'OpenVPN refused client-kill', reply.trim().slice(0, 300));
    }
    return killed;
  }

  private command(cmd: string, done: (reply: string) => boolean): Promise<string> {
    const run = () => this.exchange(cmd, done);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private exchange(cmd: string, done: (reply: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const where = this.describe();
      const socket: Socket = createConnection(
        this.target as { host: string; port: number } & { path: string },
      );
      let buffer = '';
      let sent = false;
      const fail = (message: string) => {
        socket.destroy();
        reject(new VpnError('unavailable', `the OpenVPN management interface (${where}) ${message}`));
      };
      socket.setTimeout(this.timeoutMs, () => fail(`did not answer within ${this.timeoutMs} ms`));
      socket.on('error', (err) => fail(`is unreachable: ${err.message}`));
      // After a resolve, the reject is a no-op.
      socket.on('close', () => fail('closed the connection before answering'));
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        if (buffer.length > MAX_REPLY) return fail(`replied with more than ${MAX_REPLY} bytes`);
        if (!sent) {
          // The greeting comes first: `>INFO:OpenVPN Management Interface Version …`.
          const nl = buffer.indexOf('\n');
          if (nl < 0) return;
          if (!buffer.startsWith('>INFO:')) return fail(`does not look like OpenVPN: ${buffer.slice(0, 80)}`);
          buffer = buffer.slice(nl + 1);
          sent = true;
          socket.write(`${cmd}\n`);
          return;
        }
        // Real-time notifications (`>…`) may arrive between command replies: not part of the answer.
        const reply = buffer
          .split('\n')
          .filter((l) => !l.startsWith('>'))
          .join('\n');
        if (done(reply)) {
          socket.end('quit\n');
          socket.destroy();
          resolve(reply);
        }
      });
    });
  }
}
