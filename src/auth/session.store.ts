import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LessThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { Session } from './session.entity';
import { User } from './user.entity';

const KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const SESSION_KEY_PATTERN = /^[a-z0-9]{32}$/;

/** Django's session key: 32 characters of [a-z0-9] from a CSPRNG. */
export function newSessionKey(): string {
  const bytes = randomBytes(64);
  let key = '';
  for (let i = 0; i < bytes.length && key.length < 32; i++) {
    if (bytes[i] < 252) key += KEY_ALPHABET[bytes[i] % 36]; // 252 = 7 × 36: no modulo bias
  }
  return key.length === 32 ? key : newSessionKey();
}

/** Database-backed sessions, laid out like django_session. */
@Injectable()
export class SessionStore {
  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly config: AppConfig,
  ) {}

  async create(user: User): Promise<Session> {
    const session = this.sessions.create({
      sessionKey: newSessionKey(),
      sessionData: JSON.stringify({ _auth_user_id: String(user.id) }),
      expireDate: new Date(Date.now() + this.config.sessionCookieAge * 1000),
      userId: user.id,
    });
    await this.sessions.insert(session);
    return session;
  }

  /** The active user a session key belongs to, or null (unknown, expired, or the user is inactive). */
  async userFor(sessionKey: string | undefined): Promise<User | null> {
    if (!sessionKey || !SESSION_KEY_PATTERN.test(sessionKey)) return null;
    const session = await this.sessions.findOneBy({ sessionKey });
    if (!session || session.expireDate.getTime() <= Date.now() || session.userId === null) return null;
    const user = await this.users.findOneBy({ id: session.userId });
    return user && user.isActive ? user : null;
  }

  async delete(sessionKey: string): Promise<void> {
    await this.sessions.delete({ sessionKey });
  }

  async deleteAllFor(userId: number): Promise<void> {
    await this.sessions.delete({ userId });
  }

  /** Django's clearsessions. */
  async purgeExpired(): Promise<number> {
    const result = await this.sessions.delete({ expireDate: LessThan(new Date()) });
    return result.affected ?? 0;
  }
}
