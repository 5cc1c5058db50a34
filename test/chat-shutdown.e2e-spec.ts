import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startApp } from './support/app';
import { openWs } from './support/ws';

describe('chat shutdown', () => {
  it('closes every socket with 1001 and flushes queued history before the database closes', async () => {
    // A long flush interval keeps the messages queued until shutdown.
    const t = await startApp({ CHAT_HISTORY_FLUSH_MS: '600000' });
    const dbFile = join(t.dataDir, 'db.sqlite3');
    const a = await openWs(`ws://127.0.0.1:${t.port}/chat/bye/`);
    const b = await openWs(`ws://127.0.0.1:${t.port}/chat/bye/`);
    await Promise.all([a.next(), b.next()]);
    for (let i = 0; i < 20; i++) a.send(`last words ${i}`);
    for (let i = 0; i < 20; i++) await b.next();
    await t.app.close();
    expect(await a.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await b.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    const db = new Database(dbFile, { readonly: true });
    const rows = db.prepare("SELECT text FROM chat_message WHERE room = 'bye' ORDER BY id").all() as {
      text: string;
    }[];
    db.close();
    rmSync(t.dataDir, { recursive: true, force: true });
    expect(rows.map((r) => r.text)).toEqual(Array.from({ length: 20 }, (_, i) => `last words ${i}`));
  });
});
