import { QueryFailedError } from 'typeorm';
import { describeDatabaseError, isDatabaseUnavailable, markConnectionFailure } from './database-errors';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('recognises an unreachable, silent or overloaded PostgreSQL, wrapped or not', () => {
    const cases: [unknown, string][] = [
      [new Error('timeout exceeded when trying to connect'), 'could not connect within the time limit'],
      [
        new Error('Connection terminated due to connection timeout'),
        'could not connect within the time limit',
      ],
      [new Error('Connection terminated unexpectedly'), 'connection lost'],
      [
        new QueryFailedError('SELECT 1', [], new Error('Query read timeout')),
        'no answer within the time limit',
      ],
      [
        markConnectionFailure(withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED')),
        'connection refused',
      ],
      [markConnectionFailure(withCode('read ECONNRESET', 'ECONNRESET')), 'connection lost'],
      [
        new QueryFailedError('x', [], withCode('canceling statement due to statement timeout', '57014')),
        'query cancelled after the time limit',
      ],
      [withCode('the database system is shutting down', '57P03'), 'server shutting down or starting'],
      [withCode('sorry, too many clients already', '53300'), 'too many connections'],
      [withCode('could not extend file: No space left on device', '53100'), 'disk full'],
    ];
    for (const [err, reason] of cases) {
      expect(isDatabaseUnavailable(err)).toBe(true);
      expect(describeDatabaseError(err)).toBe(reason);
    }
  });

  it('recognises a SQLite that cannot write or read now', () => {
    expect(describeDatabaseError(withCode('database or disk is full', 'SQLITE_FULL'))).toBe('disk full');
    expect(isDatabaseUnavailable(withCode('database is locked', 'SQLITE_BUSY'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('disk I/O error', 'SQLITE_IOERR_WRITE'))).toBe(true);
    expect(describeDatabaseError(withCode('attempt to write a readonly database', 'SQLITE_READONLY'))).toBe(
      'database is read-only',
    );
  });

  it('leaves bad queries, constraint violations and unrelated network errors alone (they are not 503s)', () => {
    expect(isDatabaseUnavailable(withCode('duplicate key value violates unique constraint', '23505'))).toBe(
      false,
    );
    expect(isDatabaseUnavailable(new QueryFailedError('x', [], withCode('syntax error', '42601')))).toBe(
      false,
    );
    expect(isDatabaseUnavailable(withCode('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'))).toBe(
      false,
    );
    // An SMTP or webhook call refused is not the database (only our pg client marks its own).
    expect(isDatabaseUnavailable(withCode('connect ECONNREFUSED 10.0.0.9:25', 'ECONNREFUSED'))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isDatabaseUnavailable('a string')).toBe(false);
  });

  it('never puts addresses in the reason', () => {
    const err = markConnectionFailure(withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED'));
    expect(describeDatabaseError(err)).not.toMatch(/10\.0\.0\.5/);
  });
});
