import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** How the webhook receiver answers one request: an HTTP status, or `hang` (never answer). */
export type WebhookReply = number | 'hang';

export interface ReceivedWebhook {
  method: string;
  contentType: string | undefined;
  body: unknown;
  at: number;
}

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The raw message (headers and body) as the SMTP server got it. */
  raw: string;
  subject: string;
  body: string;
}

export interface AlertReceivers {
  /** Put this in ALERT_WEBHOOK_URL. */
  webhookUrl: string;
  /** Put this in ALERT_SMTP_URL (plain SMTP on localhost, no auth, no STARTTLS). */
  smtpUrl: string;
  webhooks: ReceivedWebhook[];
  mails: ReceivedMail[];
  /** Replies for the next requests, in order; once empty, requests get `defaultReply`. */
  replies: WebhookReply[];
  defaultReply: WebhookReply;
  /** Empties the received lists and the reply queue. */
  reset(): void;
  /** Resolves when `predicate` holds, polling every 25 ms; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function unfoldHeader(headers: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(headers);
  return m ? m[1].replace(/\r?\n[ \t]+/g, ' ').trim() : '';
}

/** Enough MIME for nodemailer's plain-text mails: the body, decoded from quoted-printable if so. */
function parseMail(raw: string): { subject: string; body: string } {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split >= 0 ? raw.slice(0, split) : raw;
  let body = split >= 0 ? raw.slice(split).replace(/^\r?\n\r?\n/, '') : '';
  if (/quoted-printable/i.test(unfoldHeader(headers, 'Content-Transfer-Encoding'))) {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return { subject: unfoldHeader(headers, 'Subject'), body: body.replace(/\r\n/g, '\n') };
}

/**
 * A local webhook receiver (node http) and a local SMTP server (smtp-server) for alert tests.
 * Both listen on 127.0.0.1 on free ports; the webhook's behaviour is steered with `replies`.
 */
export async function startAlertReceivers(): Promise<AlertReceivers> {
  const webhooks: ReceivedWebhook[] = [];
  const mails: ReceivedMail[] = [];
  const hanging = new Set<ServerResponse>();
  const receivers = {
    replies: [] as WebhookReply[],
    defaultReply: 200 as WebhookReply,
  };

  const http: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text
      }
      webhooks.push({
        method: req.method ?? '',
        contentType: req.headers['content-type'],
        body,
        at: Date.now(),
      });
      const reply = receivers.replies.length > 0 ? receivers.replies.shift()! : receivers.defaultReply;
      if (reply === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(reply, { 'Content-Type': 'text/plain' }).end(reply < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const httpPort = (http.address() as AddressInfo).port;

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw, ...parseMail(raw) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  return {
    webhookUrl: `http://127.0.0.1:${httpPort}/hooks/alerts`,
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    webhooks,
    mails,
    get replies() {
      return receivers.replies;
    },
    set replies(v: WebhookReply[]) {
      receivers.replies = v;
    },
    get defaultReply() {
      return receivers.defaultReply;
    },
    set defaultReply(v: WebhookReply) {
      receivers.defaultReply = v;
    },
    reset() {
      webhooks.length = 0;
      mails.length = 0;
      receivers.replies = [];
      receivers.defaultReply = 200;
    },
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      for (const res of hanging) res.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    },
  };
}
