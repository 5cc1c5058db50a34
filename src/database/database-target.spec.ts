import { describeDatabaseTarget } from './database-target';

describe('describeDatabaseTarget', () => {
  it('names the SQLite file by its absolute path', () => {
    expect(describeDatabaseTarget({ type: 'sqlite', path: '/srv/live/data/db.sqlite3' })).toBe(
      'sqlite:/srv/live/data/db.sqlite3',
    );
  });

  it('masks PostgreSQL passwords, in the user part and as a parameter', () => {
    expect(describeDatabaseTarget({ type: 'postgres', url: 'postgres://live:s3cr:et@db:5432/live' })).toBe(
      'postgres://live:***@db:5432/live',
    );
    expect(
      describeDatabaseTarget({
        type: 'postgres',
        url: 'postgresql://db/live?user=live&password=hunter2&x=1',
      }),
    ).toBe('postgresql://db/live?user=live&password=***&x=1');
    expect(describeDatabaseTarget({ type: 'postgres', url: 'postgres://live@db/live' })).toBe(
      'postgres://live@db/live',
    );
  });
});
