import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, Repository } from 'typeorm';
import { DatabaseMode } from '../database/database-mode';
import { AuthError } from './auth.exception';
import type { ImportedUser } from './django-import';
import { PasswordHasher } from './password-hasher';
import { UserGroup } from './group.entity';
import { AdminUserView, toPublicUser, User } from './user.entity';
import { CreateUserDto, ListUsersQuery, UpdateUserDto } from './users.dto';

/** Users, passwords and authentication: the logic behind the login and the staff user endpoints. */
@Injectable()
export class UsersService {
  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    readonly hasher: PasswordHasher,
    private readonly databaseMode: DatabaseMode,
  ) {}

  findById(id: number): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  /** The user with this id; AuthError not_found when there is none. */
  async get(id: number): Promise<User> {
    const user = await this.findById(id);
    if (!user) throw noUserWithId(id);
    return user;
  }

  findByUsername(username: string): Promise<User | null> {
    return this.users.findOneBy({ username });
  }

  /**
   * Django's authenticate(): the user when the password matches and the account is active, else null.
   * Unknown users cost one hash too, so timing does not reveal which usernames exist.
   */
  async authenticate(username: string, password: string): Promise<User | null> {
    const user = await this.findByUsername(username);
    if (!user) {
      await this.hasher.spendTimeOnUnknownUser(password);
      return null;
    }
    const { valid, mustUpdate } = await this.hasher.verify(password, user.password);
    if (!valid || !user.isActive) return null;
    // Beside Django, Django's hasher settings decide (see DatabaseMode): no rehash here.
    if (mustUpdate && !this.databaseMode.djangoOwnsAuth) {
      user.password = await this.hasher.hash(password);
      await this.users.update({ id: user.id }, { password: user.password });
    }
    return user;
  }

  async recordLogin(user: User): Promise<void> {
    user.lastLogin = new Date();
    await this.users.update({ id: user.id }, { lastLogin: user.lastLogin });
  }

  async list(query: ListUsersQuery): Promise<{ count: number; results: AdminUserView[] }> {
    const qb = this.users.createQueryBuilder('u');
    if (query.search) {
      const term = `%${query.search.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      qb.where(
        new Brackets((w) =>
          ['username', 'first_name', 'last_name', 'email'].forEach((col) =>
            w.orWhere(`LOWER(u.${col}) LIKE :term ESCAPE '\\'`, { term }),
          ),
        ),
      );
    }
    const orderColumn = { username: 'u.username', id: 'u.id', dateJoined: 'u.date_joined' }[
      query.ordering ?? 'username'
    ];
    qb.orderBy(orderColumn ?? 'u.username', 'ASC')
      .skip(query.offset ?? 0)
      .take(query.limit ?? 100);
    const [rows, count] = await qb.getManyAndCount();
    return { count, results: rows.map(toAdminView) };
  }

  async create(dto: CreateUserDto): Promise<User> {
    if (await this.findByUsername(dto.username)) {
      throw usernameTaken(dto.username);
    }
    const user = this.users.create({
      username: dto.username,
      password: dto.password ? await this.hasher.hash(dto.password) : PasswordHasher.unusable(),
      email: dto.email ?? '',
      firstName: dto.firstName ?? '',
      lastName: dto.lastName ?? '',
      isStaff: dto.isStaff ?? false,
      isSuperuser: dto.isSuperuser ?? false,
      isActive: dto.isActive ?? true,
      lastLogin: null,
      dateJoined: new Date(),
    });
    try {
      return await this.users.save(user);
    } catch (err) {
      if (await this.findByUsername(dto.username)) {
        throw usernameTaken(dto.username);
      }
      throw err;
    }
  }

  async update(id: number, dto: UpdateUserDto): Promise<User> {
    const user = await this.findById(id);
    if (!user) throw noUserWithId(id);
    if (dto.username !== undefined && dto.username !== user.username) {
      if (await this.findByUsername(dto.username)) {
        throw usernameTaken(dto.username);
      }
      user.username = dto.username;
    }
    if (dto.email !== undefined) user.email = dto.email;
    if (dto.firstName !== undefined) user.firstName = dto.firstName;
    if (dto.lastName !== undefined) user.lastName = dto.lastName;
    if (dto.isStaff !== undefined) user.isStaff = dto.isStaff;
    if (dto.isSuperuser !== undefined) user.isSuperuser = dto.isSuperuser;
    if (dto.isActive !== undefined) user.isActive = dto.isActive;
    if (dto.password !== undefined) user.password = await this.hasher.hash(dto.password);
    try {
      await this.users.save(user);
    } catch (err) {
      // Two renames to the same name at once: the unique index decides, the loser gets a 409.
      const holder = dto.username !== undefined ? await this.findByUsername(dto.username) : null;
      if (holder && holder.id !== user.id) throw usernameTaken(dto.username);
      throw err;
    }
    // A new password or a deactivation needs nothing more: every session checks the password
    // hash and is_active on each use (SessionStore.userFor), on live and on Django alike.
    return user;
  }

  async setPassword(username: string, password: string): Promise<User> {
    const user = await this.findByUsername(username);
    if (!user) throw new AuthError('not_found', `No user named "${username}"`);
    return this.update(user.id, { password });
  }

  /** Deletes a user; `by`, the staff member asking, cannot delete their own account. */
  async remove(id: number, by?: User): Promise<void> {
    if (by && by.id === id) throw new AuthError('invalid', 'You cannot delete your own account');
    // Django's foreign keys have no ON DELETE in the database (Django's ORM deletes related rows
    // itself), so the memberships go first. Rows of other Django apps pointing at the user (an admin
    // log entry, say) make the database refuse: a 409 that says to deactivate instead.
    try {
      await this.users.manager.transaction(async (manager) => {
        await manager.delete(UserGroup, { userId: id });
        const result = await manager.delete(User, { id });
        if (!result.affected) throw noUserWithId(id);
      });
    } catch (err) {
      if (err instanceof AuthError || !isForeignKeyViolation(err)) throw err;
      throw new AuthError(
        'conflict',
        `User ${id} is still referenced by other tables of the Django site (${(err as Error).message}); deactivate the account instead`,
      );
    }
  }

  /**
   * Imports users with their Django hashes, all or nothing (one transaction): an existing username
   * is updated, a new one inserted, so running the same import again changes nothing.
   */
  async importUsers(records: ImportedUser[]): Promise<{ created: number; updated: number }> {
    return this.users.manager.transaction(async (manager) => {
      const repo = manager.getRepository(User);
      let created = 0;
      let updated = 0;
      for (const fields of records) {
        const existing = await repo.findOneBy({ username: fields.username });
        if (existing) {
          await repo.update({ id: existing.id }, fields);
          updated++;
        } else {
          await repo.insert(fields);
          created++;
        }
      }
      return { created, updated };
    });
  }
}

/** SQLite's and PostgreSQL's (23503) refusal of a delete that would leave a dangling reference. */
function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string }; message?: string };
  const code = e.driverError?.code ?? e.code;
  return (
    code === '23503' ||
    code === 'SQLITE_CONSTRAINT_FOREIGNKEY' ||
    /FOREIGN KEY constraint failed/.test(e.message ?? '')
  );
}

function usernameTaken(username: string | undefined): AuthError {
  return new AuthError('conflict', `A user with username "${username}" already exists`);
}

function noUserWithId(id: number): AuthError {
  return new AuthError('not_found', `No user with id ${id}`);
}

export function toAdminView(user: User): AdminUserView {
  return {
    ...toPublicUser(user),
    isActive: user.isActive,
    lastLogin: user.lastLogin ? user.lastLogin.toISOString() : null,
    dateJoined: user.dateJoined.toISOString(),
    hasUsablePassword: PasswordHasher.isUsable(user.password),
  };
}
