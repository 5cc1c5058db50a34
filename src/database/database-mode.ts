import { DataSource } from 'typeorm';
import { djangoOwnsAuthTables } from './django-tables';

/** Who owns the auth tables: Django (live adopted its database) or live itself. */
export type DatabaseModeName = 'django' | 'standalone';

/**
 * The database's mode, for the code that behaves differently beside Django: on a Django database
 * the password policy is Django's, so live does not rehash a stored password at login (Django
 * rehashes whenever the iteration count differs from its own, and each rehash ends the user's
 * other sessions: the two would take turns logging each other's users out).
 */
export class DatabaseMode {
  constructor(readonly name: DatabaseModeName) {}

  get djangoOwnsAuth(): boolean {
    return this.name === 'django';
  }

  static async detect(dataSource: DataSource): Promise<DatabaseMode> {
    const queryRunner = dataSource.createQueryRunner();
    try {
      return new DatabaseMode((await djangoOwnsAuthTables(queryRunner)) ? 'django' : 'standalone');
    } finally {
      await queryRunner.release();
    }
  }
}
