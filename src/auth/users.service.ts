import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, EntityManager, Repository } from 'typeorm';
import { DatabaseMode } from '../database/database-mode';
import {
  Actor,
  createRefusal,
  lastSuperuserRefusal,
  removeRefusal,
  removesActiveSuperuser,
  updateRefusal,
} from './account-rules';
import { AuthError } from './auth.exception';
import type { ImportedUser } from './django-import';
import { PasswordHasher } from './password-hasher';
import { SessionEvents } from './session-events';
import { PasswordValidator } from './password-validation';
import { UserGroup } from './group.entity';
import { AdminUserView, toPublicUser, User } from './user.entity';
import { CreateUserDto, ListUsersQuery, UpdateUserDto } from './users.dto';

/**
 * Users, passwords and authentication: the logic behind the login and the staff user endpoints.
 *
 * create, update and remove take the Actor who asks (the staff member, or OPERATOR for manage): its
 * rules (account-rules.ts) and Django's password validators apply. Without one they are trusted
 * calls, as Django's create_user and set_password are (test fixtures): no rules, no validators.
 * Either way an update or deletion never leaves the database without an active superuser when it had one.
 */
@Injectable()
export class UsersService {
  /** Serialises changes that may take away an active superuser (on PostgreSQL, rows are locked too). */
  private superuserQueue: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    readonly hasher: PasswordHasher,
    private readonly databaseMode: DatabaseMode,
    private readonly passwords: PasswordValidator,
    private readonly sessionEvents: SessionEvents,
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

  async create(dto: CreateUserDto, by?: Actor): Promise<User> {
    if (by) {
      const refusal = createRefusal(by, dto);
      if (refusal) throw refusal;
      if (dto.password !== undefined) this.passwords.check(dto.password, dto);
    }
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

  async update(id: number, dto: UpdateUserDto, by?: Actor): Promise<User> {
    let user = await this.get(id);
    if (by) {
      const refusal = updateRefusal(by, user, dto);
      if (refusal) throw refusal;
      // Django's forms validate against the account as it will be.
      if (dto.password !== undefined)
        this.passwords.check(dto.password, {
          username: dto.username ?? user.username,
          firstName: dto.firstName ?? user.firstName,
          lastName: dto.lastName ?? user.lastName,
          email: dto.email ?? user.email,
        });
    }
    if (dto.username !== undefined && dto.username !== user.username) {
      if (await this.findByUsername(dto.username)) {
        throw usernameTaken(dto.username);
      }
    }
    // Hashed before any lock is taken: a hash takes a good part of a second.
    const passwordHash = dto.password !== undefined ? await this.hasher.hash(dto.password) : undefined;
    const apply = (target: User): User => {
      if (dto.username !== undefined) target.username = dto.username;
      if (dto.email !== undefined) target.email = dto.email;
      if (dto.firstName !== undefined) target.firstName = dto.firstName;
      if (dto.lastName !== undefined) target.lastName = dto.lastName;
      if (dto.isStaff !== undefined) target.isStaff = dto.isStaff;
      if (dto.isSuperuser !== undefined) target.isSuperuser = dto.isSuperuser;
      if (dto.isActive !== undefined) target.isActive = dto.isActive;
      if (passwordHash !== undefined) target.password = passwordHash;
      return target;
    };
    try {
      if (dto.isSuperuser === false || dto.isActive === false) {
        user = await this.withSuperusersLocked(async (manager, activeSuperuserIds) => {
          const current = await manager.findOneBy(User, { id });
          if (!current) throw noUserWithId(id);
          if (removesActiveSuperuser(current, dto) && activeSuperuserIds.length <= 1)
            throw lastSuperuserRefusal(current);
          return manager.save(apply(current));
        });
      } else {
        await this.users.save(apply(user));
      }
    } catch (err) {
      if (err instanceof AuthError) throw err;
      // Two renames to the same name at once: the unique index decides, the loser gets a 409.
      const holder = dto.username !== undefined ? await this.findByUsername(dto.username) : null;
      if (holder && holder.id !== user.id) throw usernameTaken(dto.username);
      throw err;
    }
    // Every session checks the password hash and is_active on each use (SessionStore.userFor), on
    // live and on Django alike; what was opened with one (a chat socket) is told now.
    if (dto.password !== undefined || dto.isActive === false) this.sessionEvents.ended({ userIds: [id] });
    return user;
  }

  async setPassword(username: string, password: string, by: Actor): Promise<User> {
    const user = await this.findByUsername(username);
    if (!user) throw new AuthError('not_found', `No user named "${username}"`);
    return this.update(user.id, { password }, by);
  }

  /** Deletes a user, when `by` may (account-rules.ts) and it is not the last active superuser. */
  async remove(id: number, by?: Actor): Promise<void> {
    if (by) {
      const refusal = removeRefusal(by, await this.get(id));
      if (refusal) throw refusal;
    }
    // Django's foreign keys have no ON DELETE in the database (Django's ORM deletes related rows
    // itself), so the memberships go first. Rows of other Django apps pointing at the user (an admin
    // log entry, say) make the database refuse: a 409 that says to deactivate instead.
    try {
      await this.withSuperusersLocked(async (manager, activeSuperuserIds) => {
        const target = await manager.findOneBy(User, { id });
        if (target && removesActiveSuperuser(target, 'delete') && activeSuperuserIds.length <= 1)
          throw lastSuperuserRefusal(target);
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
    this.sessionEvents.ended({ userIds: [id] });
  }

  /**
   * Imports users with their Django hashes, all or nothing (one transaction): an existing username
   * is updated, a new one inserted, so running the same import again changes nothing.
   */
  async importUsers(records: ImportedUser[]): Promise<{ created: number; updated: number }> {
    return this.withSuperusersLocked(async (manager, activeSuperuserIds) => {
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
      // An import that would leave no active superuser (the only one imported as inactive, say) is
      // rolled back, as the API refuses to deactivate or demote the last one.
      if (activeSuperuserIds.length > 0 && (await repo.countBy({ isSuperuser: true, isActive: true })) === 0)
        throw lastSuperuserRefusal(await repo.findOneByOrFail({ id: activeSuperuserIds[0] }));
      return { created, updated };
    });
  }

  /**
   * Runs `work` in a transaction that holds the active superusers still: on PostgreSQL their rows are
   * locked (SELECT … FOR UPDATE, in id order), which makes every instance take turns; on SQLite (one
   * instance) a queue in this process does, since TypeORM shares SQLite's one connection between
   * concurrent transactions. `work` gets the ids of the active superusers as they are under the lock.
   */
  private withSuperusersLocked<T>(
    work: (manager: EntityManager, activeSuperuserIds: number[]) => Promise<T>,
  ): Promise<T> {
    const postgres = this.users.manager.dataSource.options.type === 'postgres';
    const run = () =>
      this.users.manager.transaction(async (manager) => {
        const rows = await manager.find(User, {
          select: { id: true },
          where: { isSuperuser: true, isActive: true },
          order: { id: 'ASC' },
          lock: postgres ? { mode: 'pessimistic_write' } : undefined,
        });
        return work(
          manager,
          rows.map((r) => r.id),
        );
      });
    const result = this.superuserQueue.then(run, run);
    this.superuserQueue = result.catch(() => undefined);
    return result;
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
