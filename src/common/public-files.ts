import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The chat page's own policy: only this origin's scripts, styles and sockets. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** `public/` at the project root, whether running from src/ (ts-node) or a build (dist/src/). */
export function publicDir(): string | null {
  for (const dir of [
    resolve(__dirname, '..', '..', 'public'),
    resolve(__dirname, '..', '..', '..', 'public'),
  ])
    if (existsSync(join(dir, 'index.html'))) return dir;
  return null;
}
