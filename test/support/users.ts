import request from 'supertest';
import { UsersService } from '../../src/auth/users.service';
import { User } from '../../src/auth/user.entity';
import type { TestApp } from './app';

export interface LoginSession {
  /** The value for a Cookie header: the session and CSRF cookies, by the app's configured names. */
  cookie: string;
  csrf: string;
}

export async function createUser(
  t: TestApp,
  fields: {
    username: string;
    password?: string;
    isStaff?: boolean;
    isSuperuser?: boolean;
    firstName?: string;
    lastName?: string;
    email?: string;
    isActive?: boolean;
  },
): Promise<User> {
  return t.app.get(UsersService).create(fields);
}

function cookieValue(setCookie: string[] | string | undefined, name: string): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  for (const c of list) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return undefined;
}

/** A CSRF token (and its cookie) as a browser gets it before logging in. */
export async function anonymousCsrf(t: TestApp): Promise<LoginSession> {
  const res = await request(t.baseUrl).get('/auth/csrf').expect(200);
  const name = t.config.csrfCookieName;
  const csrf = cookieValue(res.headers['set-cookie'], name) as string;
  return { cookie: `${name}=${csrf}`, csrf };
}

/** Logs in through the real endpoint, as a browser would: GET /auth/csrf, then POST /auth/login. */
export async function login(t: TestApp, username: string, password: string): Promise<LoginSession> {
  const anon = await anonymousCsrf(t);
  const res = await request(t.baseUrl)
    .post('/auth/login')
    .set('Cookie', anon.cookie)
    .set('X-CSRFToken', anon.csrf)
    .send({ username, password });
  if (res.status !== 200)
    throw new Error(`login(${username}) failed: ${res.status} ${JSON.stringify(res.body)}`);
  const { sessionCookieName, csrfCookieName } = t.config;
  const session = cookieValue(res.headers['set-cookie'], sessionCookieName) as string;
  const csrf = cookieValue(res.headers['set-cookie'], csrfCookieName) as string;
  return { cookie: `${sessionCookieName}=${session}; ${csrfCookieName}=${csrf}`, csrf };
}

export { cookieValue };
