import type { DatabaseTarget } from '../config/app.config';

/**
 * The database a process uses, for a person to read: `sqlite:/abs/path/db.sqlite3` or the
 * PostgreSQL URL with its password masked (in the user part and in a `password=` parameter).
 */
export function describeDatabaseTarget(target: DatabaseTarget): string {
  if (target.type === 'sqlite') return `sqlite:${target.path}`;
  return target.url
    .replace(/^([a-z]+:\/\/[^/@:\s]*):[^/@\s]*@/i, '$1:***@')
    .replace(/([?&]password=)[^&]*/i, '$1***');
}
