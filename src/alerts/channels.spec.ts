import { AddressInfo, createServer } from 'node:net';
import { AlertSendError } from './alert.types';
import { EmailChannel } from './email.channel';
import { WebhookChannel } from './webhook.channel';

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const alert = {
  event: 'vpn.operation_failed',
  severity: 'critical' as const,
  subject: 'revoke alice failed',
  detail: 'easyrsa exited 1',
  at: new Date(),
};

describe('alert channels against a refused connection', () => {
  it('the webhook retries network errors with backoff, then fails with the attempts made', async () => {
    const port = await closedPort();
    const channel = new WebhookChannel({
      url: `http://127.0.0.1:${port}/hook`,
      timeoutMs: 1000,
      retries: 2,
      backoffMs: 30,
    });
    const started = Date.now();
    const err = (await channel.send(alert).catch((e: unknown) => e)) as AlertSendError;
    expect(err).toBeInstanceOf(AlertSendError);
    expect(err.attempts).toBe(3);
    expect(err.message).toMatch(/webhook failed after 3 attempt\(s\): .*ECONNREFUSED/);
    // Waited 30 + 60 ms between the attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(85);
  });

  it('email fails once, quickly, with the SMTP error', async () => {
    const port = await closedPort();
    const channel = new EmailChannel({
      smtpUrl: `smtp://127.0.0.1:${port}`,
      timeoutMs: 2000,
      from: 'live@example.org',
      to: ['ops@example.org'],
    });
    const err = (await channel.send(alert).catch((e: unknown) => e)) as AlertSendError;
    channel.close();
    expect(err).toBeInstanceOf(AlertSendError);
    expect(err.attempts).toBe(1);
    expect(err.message).toMatch(/^email failed: .*ECONNREFUSED/);
  });
});
