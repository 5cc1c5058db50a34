import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { startApp, TestApp } from './support/app';
import { databaseVariants } from './support/databases';
import { anonymousCsrf, createUser, login, LoginSession } from './support/users';

/**
 * Hostile input, sent anonymously, as a logged-in non-staff user and as staff, on every database:
 * no answer may be a 5xx, take over 5 s, or be an error without the JSON error body, and the app
 * must still answer /health afterwards. The corpus is data: add an entry for every new endpoint.
 */

type Identity = 'anon' | 'user' | 'staff';
const IDENTITIES: Identity[] = ['anon', 'user', 'staff'];

interface HostileCase {
  /** What it tries (shown on failure); defaults to method + path. */
  name?: string;
  method: string;
  /** Sent as is (no normalization): `{victim}` is a user id nobody logs in as. */
  path: string;
  /** `null` removes a header the identity would send (cookie, x-csrftoken). */
  headers?: Record<string, string | null>;
  body?: string | Buffer | object;
  /** Who sends it; all three by default. */
  as?: Identity[];
  /** The status it must get: one for all, a list of acceptable ones, or per identity. */
  expectStatus?: number | number[] | Partial<Record<Identity, number | number[]>>;
  /** Must appear in the error message (for each identity the status expectation covers). */
  expectMessage?: string | RegExp;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const deepArray = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const deepObject = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const TOO_DEEP = /JSON nesting too deep/;
const NUL = /must not contain NUL/;
const BAD_ID = 'id must be an integer from 1 to 2147483647';
const MINE = { user: 403, anon: 401 } as const;

/**
 * Endpoints that take a body, with targets that cannot be destroyed: whatever body passes, at worst
 * a user that does not exist is deleted or an invalid VPN name refused.
 */
const BODY_ENDPOINTS: [string, string][] = [
  ['POST', '/auth/login'],
  ['POST', '/admin/users'],
  ['PATCH', '/admin/users/{victim}'],
  ['DELETE', '/admin/users/2147483647'],
  ['POST', '/admin/certs'],
  ['POST', '/admin/vpn/clients'],
  ['DELETE', '/admin/vpn/clients/-x'],
  ['POST', '/admin/alerts/test'],
  ['DELETE', '/admin/lockouts?username=hostile-nobody'],
  ['POST', '/auth/2fa/confirm'],
  ['POST', '/auth/2fa/verify'],
  ['POST', '/auth/2fa/disable'],
  // Room rules and moderation (issue 18): a room no one uses; the victim has no socket to close.
  ['PUT', '/admin/chat/rooms/hostile-room'],
  ['POST', '/chat/rooms/hostile-room/moderation/mute'],
  ['POST', '/chat/rooms/hostile-room/moderation/delete'],
  // The publish API (issue 19): no generic body has a `text`, so nothing is posted.
  ['POST', '/chat/rooms/hostile-room/messages'],
  ['POST', '/chat/broadcast'],
];
/** Every endpoint that reads a JSON body: these only get bodies refused before any handler runs. */
const JSON_ENDPOINTS: [string, string][] = [
  ...BODY_ENDPOINTS,
  ['POST', '/auth/logout'],
  ['POST', '/admin/certs/renew'],
  ['POST', '/admin/certs/check'],
  ['DELETE', '/admin/users/{victim}'],
  ['POST', '/auth/2fa/enrol'],
];

/** Requests as a browser over TLS (the suite trusts one proxy) and, for each, a body that does no harm if it passed. */
const TLS = { 'x-forwarded-proto': 'https' };
const CSRF_TLS_TARGETS: [Identity[], string, string, object][] = [
  [['anon'], 'POST', '/auth/login', { username: 'victim', password: 'not-the-password' }],
  [['user', 'staff'], 'POST', '/admin/users', {}],
];

/** Bodies whose `code` no endpoint takes. */
const TWO_FACTOR_BAD_CODES: object[] = [
  { code: null },
  { code: 123456 },
  { code: 0 },
  { code: ['123456'] },
  { code: { $ne: null } },
  { code: true },
  { code: '' },
  { code: '12345' },
  { code: '1234567' },
  { code: '12345a' },
  { code: '\uff11\uff12\uff13\uff14\uff15\uff16' },
  { code: '١٢٣٤٥٦' },
  { code: 'abcde-fghij' },
  { code: 'x'.repeat(65) },
  { code: '1'.repeat(100_000) },
  { code: '123456', extra: 1 },
];

/**
 * Room rules and moderation (issue 18): rules bodies and moderation commands that break a rule,
 * room names no socket could use, ids beyond their columns. Staff are refused by validation (400),
 * a logged-in non-staff by the guard on /admin (403) or, for moderation, by validation first.
 */
const ROOM_RULES = '/admin/chat/rooms/hostile-room';
const MODERATE = '/chat/rooms/hostile-room/moderation';
const AS_MODERATOR = { anon: 401, user: 400, staff: 400 } as const;
const CHAT_MODERATION_CASES: HostileCase[] = [
  ...[
    { join: 'everyone', post: 'anyone' },
    { join: 'users' },
    { join: 'users', post: 'admins' },
    { join: ['users'], post: 'anyone' },
    { join: 'users', post: 'anyone', topic: 'x'.repeat(501) },
    { join: 'users', post: 'anyone', topic: 5 },
    { join: 'users', post: 'anyone', topic: null },
    { join: 'users', post: 'anyone', moderatorGroup: null },
    { join: 'users', post: 'anyone', moderatorGroup: '' },
    { join: 'users', post: 'anyone', moderatorGroup: 'g'.repeat(151) },
    { join: 'members', post: 'anyone', members: 'everyone' },
    { join: 'members', post: 'anyone', members: { users: 'bob' } },
    { join: 'members', post: 'anyone', members: { users: [5] } },
    { join: 'members', post: 'anyone', members: { users: [''] } },
    { join: 'members', post: 'anyone', members: { groups: [{ name: 'x' }] } },
    {
      join: 'members',
      post: 'anyone',
      members: { users: Array.from({ length: 1000 }, (_, i) => `u${i}`), extra: 1 },
    },
    { join: 'members', post: 'anyone', members: { users: ['no-such-user-anywhere'] } },
    { join: 'members', post: 'anyone', members: { groups: ['no-such-group'] } },
    { join: 'users', post: 'anyone', isStaff: true },
  ].map((body): HostileCase => ({
    name: `PUT ${ROOM_RULES} ${JSON.stringify(body).slice(0, 80)}`,
    method: 'PUT',
    path: ROOM_RULES,
    headers: JSON_TYPE,
    body,
    expectStatus: { staff: 400, ...MINE },
  })),
  ...['a%20b', '..%2F..%2Fetc', 'r'.repeat(101), '%F0%9F%98%80', 'a.b'].map((room): HostileCase => ({
    name: `PUT /admin/chat/rooms/<${room.slice(0, 20)}>`,
    method: 'PUT',
    path: `/admin/chat/rooms/${room}`,
    headers: JSON_TYPE,
    body: { join: 'users', post: 'anyone' },
    expectStatus: { staff: 400, ...MINE },
  })),
  { method: 'GET', path: '/admin/chat/rooms/hostile-nowhere', expectStatus: { staff: 404, ...MINE } },
  { method: 'DELETE', path: '/admin/chat/rooms/hostile-nowhere', expectStatus: { staff: 404, ...MINE } },
  ...[
    'limit=0',
    'limit=501',
    'before=0',
    'before=2147483648',
    `room=${'r'.repeat(101)}`,
    'limit=1&limit=2',
  ].map((q): HostileCase => ({
    method: 'GET',
    path: `/admin/chat/moderation/log?${q}`,
    expectStatus: { staff: 400, ...MINE },
  })),
  ...[
    ['mute', { user: 0 }],
    ['mute', { user: 2147483648 }],
    ['mute', { user: '5' }],
    ['mute', { user: 1.5 }],
    ['mute', { user: null }],
    ['mute', {}],
    ['mute', { user: 2147483647, duration: 0 }],
    ['mute', { user: 2147483647, duration: 31622401 }],
    ['mute', { user: 2147483647, duration: '60' }],
    ['ban', { user: 2147483647, duration: -1 }],
    ['kick', { user: 2147483647, reason: 'x'.repeat(501) }],
    ['kick', { user: 2147483647, reason: 5 }],
    ['unban', { user: 2147483647, extra: true }],
    ['delete', { id: -1 }],
    ['delete', { id: 9007199254740992 }],
    ['delete', { id: '12' }],
    ['delete', {}],
  ].map(([action, body]): HostileCase => ({
    name: `POST ${MODERATE}/${action} ${JSON.stringify(body)}`,
    method: 'POST',
    path: `${MODERATE}/${action}`,
    headers: JSON_TYPE,
    // 2147483647 is a user that does not exist: validation answers before anyone is looked up.
    body: body as object,
    expectStatus: AS_MODERATOR,
  })),
  ...['a%20b', 'r'.repeat(101), '%F0%9F%98%80'].map((room): HostileCase => ({
    name: `POST /chat/rooms/<${room.slice(0, 20)}>/moderation/kick`,
    method: 'POST',
    path: `/chat/rooms/${room}/moderation/kick`,
    headers: JSON_TYPE,
    body: { user: 1 },
    expectStatus: { anon: 401, user: 400, staff: 400 },
  })),
  {
    name: 'POST moderation/kick of a user who does not exist',
    method: 'POST',
    path: `${MODERATE}/kick`,
    headers: JSON_TYPE,
    body: { user: 2147483647 },
    expectStatus: { anon: 401, user: 403, staff: 404 },
  },
  {
    method: 'POST',
    path: `${MODERATE}/delete`,
    headers: JSON_TYPE,
    body: { id: 9007199254740991 },
    expectStatus: { anon: 401, user: 403, staff: 404 },
  },
  { method: 'POST', path: `${MODERATE}/nuke`, headers: JSON_TYPE, body: { user: 1 }, expectStatus: 404 },
  ...['limit=0', 'before=-1', 'before=x', 'limit=1e3'].map((q): HostileCase => ({
    method: 'GET',
    path: `${MODERATE}/log?${q}`,
    expectStatus: AS_MODERATOR,
  })),
  { method: 'GET', path: `${MODERATE}/sanctions`, expectStatus: { anon: 401, user: 403, staff: 200 } },
  ...['/chat/rooms/a%20b', `/chat/rooms/${'r'.repeat(101)}`, '/chat/rooms/%E2%80%AE'].map(
    (path): HostileCase => ({ method: 'GET', path, expectStatus: 400 }),
  ),
];

const CORPUS: HostileCase[] = [
  // 1. Deep nesting: refused before any guard, pipe or class-transformer.
  ...JSON_ENDPOINTS.flatMap(([method, path]): HostileCase[] => [
    {
      name: `${method} ${path} 5000-deep array`,
      method,
      path,
      headers: JSON_TYPE,
      body: `{"username":${deepArray(5000)},"password":"x"}`,
      expectStatus: 400,
      expectMessage: TOO_DEEP,
    },
    {
      name: `${method} ${path} 3000-deep object`,
      method,
      path,
      headers: JSON_TYPE,
      body: deepObject(3000),
      expectStatus: 400,
      expectMessage: TOO_DEEP,
    },
    {
      name: `${method} ${path} 33 levels`,
      method,
      path,
      headers: JSON_TYPE,
      body: deepArray(33),
      expectStatus: 400,
      expectMessage: TOO_DEEP,
    },
  ]),
  {
    name: 'deep JSON gzipped',
    method: 'POST',
    path: '/auth/login',
    headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
    body: gzipSync(deepArray(100_000)),
    expectStatus: 400,
    expectMessage: TOO_DEEP,
  },

  // 2. Content-Encoding: bodies that do not decompress are 400, unknown encodings 415.
  ...['gzip', 'deflate', 'br', 'GZIP', 'x-gzip', 'compress', 'gzip, deflate', 'identity, gzip', 'zstd'].map(
    (encoding): HostileCase => ({
      name: `Content-Encoding ${encoding} with a plain body`,
      method: 'POST',
      path: '/auth/login',
      headers: { ...JSON_TYPE, 'content-encoding': encoding },
      body: '{"username":"a","password":"b"}',
      expectStatus: ['gzip', 'deflate', 'br', 'GZIP'].includes(encoding) ? 400 : [400, 415],
    }),
  ),
  {
    name: 'truncated gzip',
    method: 'POST',
    path: '/admin/users',
    headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
    body: gzipSync('{"username":"truncated-gzip-user"}').subarray(0, 15),
    expectStatus: 400,
    expectMessage: /could not be decompressed/,
  },
  {
    name: 'gzip bomb (5 MB of spaces)',
    method: 'POST',
    path: '/admin/users',
    headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
    body: gzipSync(Buffer.alloc(5_000_000, ' ')),
    expectStatus: 413,
  },
  {
    name: 'deflate and brotli that decompress are accepted',
    method: 'POST',
    path: '/admin/users',
    headers: { ...JSON_TYPE, 'content-encoding': 'deflate' },
    body: deflateSync('{"username":"x","unknownField":1}'),
    expectStatus: { staff: 400, ...MINE },
  },
  {
    method: 'POST',
    path: '/admin/users',
    headers: { ...JSON_TYPE, 'content-encoding': 'br' },
    body: brotliCompressSync('{"username":"x","unknownField":1}'),
    as: ['staff'],
    expectStatus: 400,
    expectMessage: 'property unknownField should not exist',
  },

  // 3. Numbers the columns cannot hold.
  ...[
    '2147483648',
    '99999999999999999999',
    '-1',
    '0',
    '1.5',
    '1e30',
    'NaN',
    'Infinity',
    '0x80000000',
    '%20',
  ].flatMap((id): HostileCase[] => [
    { method: 'GET', path: `/admin/users/${id}`, expectStatus: { staff: 400, ...MINE } },
    { method: 'PATCH', path: `/admin/users/${id}`, body: {}, expectStatus: { staff: 400, ...MINE } },
    { method: 'DELETE', path: `/admin/users/${id}`, expectStatus: { staff: 400, ...MINE } },
    { method: 'GET', path: `/admin/certs/runs/${id}`, expectStatus: { staff: 400, ...MINE } },
  ]),
  { method: 'GET', path: '/admin/users/2147483648', as: ['staff'], expectStatus: 400, expectMessage: BAD_ID },
  {
    method: 'GET',
    path: '/admin/certs/runs/2147483648',
    as: ['staff'],
    expectStatus: 400,
    expectMessage: BAD_ID,
  },
  { method: 'GET', path: '/admin/users/2147483647', as: ['staff'], expectStatus: 404 },
  ...[
    'offset=99999999999999999999',
    'offset=2147483648',
    'offset=-1',
    'offset=1.5',
    'offset=1e3',
    'limit=99999999999999999999',
    'limit=0',
    'limit=501',
    'limit=1&limit=2',
    'limit=',
    'limit[a]=1',
    'search[a]=1',
    'search=a&search=b',
    'ordering=__proto__',
    'ordering=constructor',
    'ordering=u.password',
  ].map((q): HostileCase => ({
    method: 'GET',
    path: `/admin/users?${q}`,
    expectStatus: { staff: 400, ...MINE },
  })),
  ...['limit=99999999999999999999', 'limit=0', 'limit=201', 'limit=-5', 'limit=2.5', 'limit=1&limit=1'].map(
    (q): HostileCase => ({
      method: 'GET',
      path: `/admin/certs/runs?${q}`,
      expectStatus: { staff: 400, ...MINE },
    }),
  ),
  ...['limit=99999999999999999999', 'limit=0', 'limit=501', 'limit=-5', 'limit=2.5', 'limit=1&limit=1'].map(
    (q): HostileCase => ({
      method: 'GET',
      path: `/admin/alerts?${q}`,
      expectStatus: { staff: 400, ...MINE },
    }),
  ),
  // Unlocking: a username and/or an address, strings of the columns' widths, nothing else.
  ...[
    '',
    'username=',
    'address=',
    `username=${'u'.repeat(151)}`,
    `address=${'a'.repeat(101)}`,
    'username=a&username=b',
    'address=a&address=b',
    'username[x]=1',
    'address[]=1',
    'username=a&extra=1',
    'constructor[prototype][isStaff]=1',
  ].map((q): HostileCase => ({
    method: 'DELETE',
    path: `/admin/lockouts?${q}`,
    expectStatus: { staff: 400, ...MINE },
  })),
  {
    method: 'DELETE',
    path: '/admin/lockouts',
    as: ['staff'],
    expectStatus: 400,
    expectMessage: 'username or address is required',
  },
  ...[
    'username=%27%20OR%201%3D1%20--',
    'username=%25',
    'address=..%2F..%2Fetc%2Fpasswd',
    'address=%E2%80%AE127.0.0.1',
    `username=${'%C3%A9'.repeat(150)}&address=${'::ffff:'.repeat(14)}`,
    'username=victim&address=127.0.0.1',
  ].map((q): HostileCase => ({
    method: 'DELETE',
    path: `/admin/lockouts?${q}`,
    expectStatus: { staff: 200, ...MINE },
  })),
  ...['/admin/lockouts?username=%00', '/admin/lockouts?address=1%00', '/admin/lockouts?%00=1'].map(
    (path): HostileCase => ({ method: 'DELETE', path, expectStatus: 400, expectMessage: /NUL/ }),
  ),
  // Refused before any guard, like every prototype key.
  { method: 'DELETE', path: '/admin/lockouts?__proto__=1', expectStatus: 400 },
  { method: 'GET', path: '/admin/lockouts', expectStatus: { staff: 200, ...MINE } },
  { method: 'GET', path: '/admin/lockouts?x=1', expectStatus: { staff: 200, ...MINE } },
  ...[
    'before=9007199254740992',
    'before=99999999999999999999',
    'before=9223372036854775808',
    'before=-1',
    'before=1.5',
    'before=1e3',
    'before=abc',
    'before=1&before=2',
    'limit=0',
    'limit=501',
    'limit=99999999999999999999',
  ].map((q): HostileCase => ({ method: 'GET', path: `/chat/rooms/lobby/messages?${q}`, expectStatus: 400 })),
  { method: 'GET', path: '/chat/rooms/lobby/messages?before=9007199254740991', expectStatus: 200 },

  // 4. NUL, in every string that could reach the database, the URL included.
  ...[
    { username: 'a\u0000b', password: 'x' },
    { username: 'a', password: 'x\u0000' },
    { 'user\u0000name': 'a', password: 'x' },
  ].map((body): HostileCase => ({
    method: 'POST',
    path: '/auth/login',
    headers: JSON_TYPE,
    body,
    expectStatus: 400,
    expectMessage: NUL,
  })),
  ...['username', 'email', 'firstName', 'lastName', 'password'].flatMap((field): HostileCase[] => [
    {
      method: 'POST',
      path: '/admin/users',
      headers: JSON_TYPE,
      body: { username: 'nul-test', [field]: `x\u0000y` },
      expectStatus: 400,
      expectMessage: NUL,
    },
    {
      method: 'PATCH',
      path: '/admin/users/{victim}',
      headers: JSON_TYPE,
      body: { [field]: `\u0000` },
      expectStatus: 400,
      expectMessage: NUL,
    },
  ]),
  ...[
    '/admin/users?search=%00',
    '/admin/users?search=a%00',
    '/admin/users?ordering=%00',
    '/admin/users?%00=1',
    '/admin/users/1%00',
    '/admin/certs/runs/%00',
    '/admin/vpn/clients/a%00/profile',
    '/chat/rooms/lobby%00/messages',
    '/chat/rooms/lobby/messages?before=%00',
    '/.well-known/acme-challenge/abc%00',
    '/admin/assets/admin.js%00',
    '/health?x=%00',
    '/index.html%00',
  ].map((path): HostileCase => ({ method: 'GET', path, expectStatus: 400, expectMessage: /NUL/ })),
  ...[{ domains: ['exa\u0000mple.org'] }, { domains: ['example.org'], email: 'a\u0000@example.org' }].map(
    (body): HostileCase => ({
      method: 'POST',
      path: '/admin/certs',
      headers: JSON_TYPE,
      body,
      expectStatus: 400,
      expectMessage: NUL,
    }),
  ),
  {
    method: 'POST',
    path: '/admin/vpn/clients',
    headers: JSON_TYPE,
    body: { name: 'al\u0000ice' },
    expectStatus: 400,
    expectMessage: NUL,
  },

  // 5. Prototype keys are unknown fields like any other, at any depth.
  ...['__proto__', 'constructor', 'prototype'].flatMap((key): HostileCase[] => [
    {
      method: 'POST',
      path: '/auth/login',
      headers: JSON_TYPE,
      body: `{"username":"a","password":"b","${key}":{"isStaff":true}}`,
      expectStatus: 400,
      expectMessage: `property ${key} should not exist`,
    },
    {
      method: 'POST',
      path: '/admin/users',
      headers: JSON_TYPE,
      body: `{"username":"proto-${key.replace(/_/g, '')}","${key}":{"isStaff":true}}`,
      expectStatus: 400,
      expectMessage: `property ${key} should not exist`,
    },
    {
      method: 'PATCH',
      path: '/admin/users/{victim}',
      headers: JSON_TYPE,
      body: `{"${key}":{"isStaff":true}}`,
      expectStatus: 400,
      expectMessage: `property ${key} should not exist`,
    },
    {
      method: 'POST',
      path: '/admin/certs',
      headers: JSON_TYPE,
      body: `{"domains":[{"${key}":1}]}`,
      expectStatus: 400,
      expectMessage: `property ${key} should not exist`,
    },
    {
      method: 'POST',
      path: '/admin/certs/renew',
      headers: JSON_TYPE,
      body: `{"${key}":{"force":true}}`,
      expectStatus: 400,
      expectMessage: `property ${key} should not exist`,
    },
    {
      method: 'GET',
      path: `/admin/users?${key}=1`,
      expectStatus: 400,
      expectMessage: `property ${key} should not exist`,
    },
    {
      method: 'GET',
      path: `/chat/rooms/lobby/messages?${key}[x]=1&${key}=2`,
      expectStatus: 400,
    },
  ]),

  // 6. CSRF by the route that matched, however the path is spelled.
  ...[
    '/auth/login/',
    '/AUTH/LOGIN',
    '/auth/Login',
    '/Auth/Login/',
    '/auth/login?next=/',
    '/auth/login/?',
  ].map((path): HostileCase => ({
    name: `login without a CSRF token at ${path}`,
    method: 'POST',
    path,
    headers: { ...JSON_TYPE, cookie: null, 'x-csrftoken': null },
    body: { username: 'victim', password: 'victim-pass' },
    as: ['anon'],
    expectStatus: 403,
    expectMessage: /CSRF Failed/,
  })),
  ...[
    '/auth//login',
    '/auth/./login',
    '/auth/login;x',
    '/auth/login%2F',
    '/auth/%6cogin',
    '//auth/login',
  ].map((path): HostileCase => ({
    name: `login without a CSRF token at ${path}`,
    method: 'POST',
    path,
    headers: { ...JSON_TYPE, cookie: null, 'x-csrftoken': null },
    body: { username: 'victim', password: 'victim-pass' },
    as: ['anon'],
    expectStatus: [403, 404],
  })),
  ...[
    ['POST', '/AUTH/LOGOUT'],
    ['POST', '/auth/logout/'],
    ['PATCH', '/ADMIN/USERS/{victim}'],
    ['PATCH', '/admin/users/{victim}/'],
    ['DELETE', '/Admin/Users/{victim}/'],
    ['POST', '/ADMIN/USERS'],
    ['POST', '/admin/certs/renew/'],
    ['POST', '/ADMIN/VPN/CLIENTS'],
    ['POST', '/admin/alerts/TEST'],
  ].map(([method, path]): HostileCase => ({
    name: `${method} ${path} with a session cookie and no CSRF token`,
    method,
    path,
    headers: { ...JSON_TYPE, 'x-csrftoken': null },
    body: { username: 'csrf-victim', isStaff: true },
    as: ['user', 'staff'],
    expectStatus: 403,
    expectMessage: /CSRF Failed/,
  })),
  ...[
    '',
    'x',
    'x'.repeat(32),
    'é'.repeat(40),
    '%00',
    'a'.repeat(10_000),
    '../../etc/passwd',
    // Django's masked form (64 of [a-zA-Z0-9]) that unmasks to another secret, and near-misses of it.
    'A'.repeat(64),
    '0'.repeat(64),
    '!'.repeat(64),
    'é'.repeat(64),
    'a'.repeat(63),
    'a'.repeat(65),
  ].map((token): HostileCase => ({
    name: `X-CSRFToken ${JSON.stringify(token.slice(0, 20))}`,
    method: 'POST',
    path: '/auth/logout',
    headers: { 'x-csrftoken': token },
    as: ['user', 'staff'],
    expectStatus: 403,
  })),

  // 6b. Over HTTPS (X-Forwarded-Proto from the trusted proxy), Django 4.0+'s Origin and Referer checks
  // come first: a foreign, null or malformed Origin, and without one a missing, malformed, insecure or
  // foreign Referer (another port, another scheme), is 403 with Django's reason, token or not.
  ...CSRF_TLS_TARGETS.flatMap(([as, method, path, body]): HostileCase[] => [
    ...[
      'null',
      '',
      'https://evil.example',
      'http://127.0.0.1',
      'https://127.0.0.1',
      'https://127.0.0.1:1',
      'https://user@127.0.0.1',
      'https://*.0.0.1',
      'javascript:alert(1)',
      'https://\u00e9vil.example',
      'https://evil.example, https://127.0.0.1',
      'https://' + 'x'.repeat(8000),
    ].map((origin): HostileCase => ({
      name: `${method} ${path} over TLS with Origin ${JSON.stringify(origin.slice(0, 40))}`,
      method,
      path,
      headers: { ...JSON_TYPE, ...TLS, origin },
      body,
      as,
      expectStatus: 403,
      expectMessage: `CSRF Failed: Origin checking failed - ${origin} does not match any trusted origins.`,
    })),
    {
      name: `${method} ${path} over TLS with neither Origin nor Referer`,
      method,
      path,
      headers: { ...JSON_TYPE, ...TLS },
      body,
      as,
      expectStatus: 403,
      expectMessage: 'CSRF Failed: Referer checking failed - no Referer.',
    },
    ...[
      ['', 'Referer is malformed.'],
      ['not a url', 'Referer is malformed.'],
      ['/auth/login', 'Referer is malformed.'],
      ['//127.0.0.1/', 'Referer is malformed.'],
      ['https://', 'Referer is malformed.'],
      ['https:///auth/login', 'Referer is malformed.'],
      ['https://[::1/', 'Referer is malformed.'],
      ['http://127.0.0.1/', 'Referer is insecure while host is secure.'],
      ['ftp://127.0.0.1/', 'Referer is insecure while host is secure.'],
      ['https://127.0.0.1/', 'https://127.0.0.1/ does not match any trusted origins.'],
      ['https://127.0.0.1:1/', 'https://127.0.0.1:1/ does not match any trusted origins.'],
      ['https://localhost/', 'https://localhost/ does not match any trusted origins.'],
      [
        'https://127.0.0.1.evil.example/',
        'https://127.0.0.1.evil.example/ does not match any trusted origins.',
      ],
      ['https://evil.example/?https://127.0.0.1', 'https://evil.example/?https://127.0.0.1 does not match'],
    ].map(([referer, reason]): HostileCase => ({
      name: `${method} ${path} over TLS with Referer ${JSON.stringify(referer)}`,
      method,
      path,
      headers: { ...JSON_TYPE, ...TLS, referer },
      body,
      as,
      expectStatus: 403,
      expectMessage: `CSRF Failed: Referer checking failed - ${reason}`,
    })),
  ]),

  // 7. The ACME Host exemption covers one normalized challenge path only.
  ...[
    '/.well-known/acme-challenge/../../index.html',
    '/.well-known/acme-challenge/%2e%2e/%2e%2e/index.html',
    '/.well-known/acme-challenge/%2E%2E%2F%2E%2E%2Findex.html',
    '/.well-known/acme-challenge/..%2F..%2Findex.html',
    '/.well-known/acme-challenge/x/../../../health',
    '/.well-known/acme-challenge/./../../app.js',
    '/.well-known/acme-challenge/token/',
    '/.well-known/acme-challenge/',
    '/.well-known/acme-challenge//x',
    '/.well-known/acme-challenge/%41bc',
    '/.well-known/acme-challenge/..',
    '/.WELL-KNOWN/acme-challenge/abc',
    '//.well-known/acme-challenge/abc',
  ].map((path): HostileCase => ({
    name: `ACME exemption at ${path} with a foreign Host`,
    method: 'GET',
    path,
    headers: { host: 'evil.example' },
    expectStatus: 400,
    expectMessage: 'Invalid Host header',
  })),
  {
    name: 'POST to a challenge with a foreign Host',
    method: 'POST',
    path: '/.well-known/acme-challenge/abc',
    headers: { host: 'evil.example' },
    expectStatus: 400,
    expectMessage: 'Invalid Host header',
  },
  {
    name: 'a real challenge path is exempt from the Host check',
    method: 'GET',
    path: '/.well-known/acme-challenge/no-such-token_1',
    headers: { host: 'new-name.example' },
    expectStatus: 404,
    expectMessage: 'No such ACME challenge',
  },

  // 8. Everything else a parser or the database might choke on.
  ...BODY_ENDPOINTS.flatMap(([method, path]): HostileCase[] => [
    { method, path, headers: JSON_TYPE, body: '' },
    { method, path, headers: JSON_TYPE, body: '{"username": ' },
    { method, path, headers: JSON_TYPE, body: '"just a string"' },
    { method, path, headers: JSON_TYPE, body: 'null' },
    { method, path, headers: JSON_TYPE, body: '123' },
    { method, path, headers: JSON_TYPE, body: '[]' },
    { method, path, headers: JSON_TYPE, body: '[{"username":"a"}]' },
    { method, path, headers: JSON_TYPE, body: '{"username":1e400,"password":-0}' },
    {
      method,
      path,
      headers: JSON_TYPE,
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x22, 0xc0, 0x80, 0x22, 0x7d]),
    },
    { method, path, headers: JSON_TYPE, body: '{"username":"\\ud800\\udfff\\ud800","password":"\\udc00"}' },
    { method, path, headers: { 'content-type': 'application/json; charset=utf-16' }, body: '{}' },
    { method, path, headers: { 'content-type': 'application/json; charset=klingon' }, body: '{}' },
    { method, path, headers: { 'content-type': 'application/json; charset' }, body: '{}' },
    { method, path, headers: { 'content-type': 'application/json;;;=' }, body: '{}' },
    { method, path, headers: { 'content-type': 'text/plain' }, body: '{"username":"a"}' },
    {
      method,
      path,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=a&password=b',
    },
    {
      method,
      path,
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\n\r\n--x--',
    },
    { method, path, headers: { 'content-type': '' }, body: '{"username":"a"}' },
    { method, path, headers: JSON_TYPE, body: `{"username":"${'a'.repeat(1_100_000)}"}`, expectStatus: 413 },
    { method, path, headers: { ...JSON_TYPE, 'content-length': '0' } },
  ]),
  ...[
    { username: null },
    { username: 5 },
    { username: ['a'] },
    { username: { a: 1 } },
    { username: true },
    { username: '' },
    { username: 'x'.repeat(151) },
    { username: 'a b' },
    { username: '../../etc' },
    { username: '😀' },
    { username: 'ok-user', password: null },
    { username: 'ok-user', password: 5 },
    { username: 'ok-user', password: '' },
    { username: 'ok-user', password: 'x'.repeat(4097) },
    { username: 'ok-user', email: null },
    { username: 'ok-user', email: 5 },
    { username: 'ok-user', email: 'a'.repeat(300) + '@example.org' },
    { username: 'ok-user', email: ['a@example.org'] },
    { username: 'ok-user', firstName: null },
    { username: 'ok-user', firstName: 'x'.repeat(151) },
    { username: 'ok-user', lastName: {} },
    { username: 'ok-user', isStaff: 'true' },
    { username: 'ok-user', isStaff: null },
    { username: 'ok-user', isSuperuser: 1 },
    { username: 'ok-user', isActive: 'false' },
    { username: 'ok-user', id: 1 },
    { username: 'ok-user', password_hash: 'x' },
  ].flatMap((body): HostileCase[] => [
    { method: 'POST', path: '/admin/users', headers: JSON_TYPE, body, expectStatus: { staff: 400, ...MINE } },
    {
      method: 'PATCH',
      path: '/admin/users/{victim}',
      headers: JSON_TYPE,
      body,
      expectStatus: { staff: 400, ...MINE },
    },
  ]),
  ...[
    { username: null, password: 'x' },
    { username: 5, password: 'x' },
    { username: ['a'], password: 'x' },
    { username: { $ne: null }, password: { $ne: null } },
    { username: 'x'.repeat(151), password: 'x' },
    { username: 'a', password: 'x'.repeat(4097) },
    { username: 'a' },
    {},
  ].map((body): HostileCase => ({
    method: 'POST',
    path: '/auth/login',
    headers: JSON_TYPE,
    body,
    expectStatus: 400,
  })),
  {
    name: 'emoji and astral characters in names are stored',
    method: 'PATCH',
    path: '/admin/users/{victim}',
    headers: JSON_TYPE,
    body: { firstName: '😀𝔘𐍈' + '😀'.repeat(70), lastName: 'Ω' },
    expectStatus: { staff: 200, ...MINE },
  },
  {
    name: 'lone surrogates in names',
    method: 'PATCH',
    path: '/admin/users/{victim}',
    headers: JSON_TYPE,
    body: '{"firstName":"\\ud800x\\udfff","lastName":"\\udc00"}',
    expectStatus: { staff: [200, 400], ...MINE },
  },
  ...[
    { domains: ['a.b;rm -rf /'] },
    { domains: ['$(reboot).example.org'] },
    { domains: ['`id`.example.org'] },
    { domains: ['example.org\nexample.com'] },
    { domains: ['-q.example.org'] },
    { domains: ['--help'] },
    { domains: ['*.example.org'] },
    { domains: ['127.0.0.1'] },
    { domains: ['example.org:80'] },
    { domains: ['x'.repeat(300) + '.org'] },
    { domains: 'example.org' },
    { domains: [] },
    { domains: null },
    { domains: [null] },
    { domains: [1, 2] },
    { domains: Array.from({ length: 101 }, (_, i) => `h${i}.example.org`) },
    { domains: ['example.org', 'EXAMPLE.org'] },
    { domains: ['example.org'], email: 'not an email' },
    { domains: ['example.org'], email: null },
    { domains: ['example.org'], email: '--agree-tos@x' },
  ].map((body): HostileCase => ({
    method: 'POST',
    path: '/admin/certs',
    headers: JSON_TYPE,
    body,
    expectStatus: { staff: 400, ...MINE },
  })),
  ...[{ force: 'yes' }, { force: null }, { force: 1 }, { force: [true] }].map((body): HostileCase => ({
    method: 'POST',
    path: '/admin/certs/renew',
    headers: JSON_TYPE,
    body,
    expectStatus: { staff: 400, ...MINE },
  })),
  ...[
    { name: '../x' },
    { name: '..' },
    { name: 'a/b' },
    { name: '-rf' },
    { name: 'a b' },
    { name: 'a;reboot' },
    { name: '$(id)' },
    { name: 'x'.repeat(65) },
    { name: '' },
    { name: null },
    { name: 7 },
    { name: ['alice'] },
    {},
  ].map((body): HostileCase => ({
    method: 'POST',
    path: '/admin/vpn/clients',
    headers: JSON_TYPE,
    body,
    expectStatus: { staff: 400, ...MINE },
  })),
  ...[
    '..%2F..%2Fetc%2Fpasswd',
    '..',
    '.',
    '%2e%2e',
    '-rf',
    'a%20b',
    'x'.repeat(65),
    'a%0Ab',
    'a%22b',
    '%ff',
    '%E2%80%AE',
  ].flatMap((name): HostileCase[] => [
    // %ff is refused before any guard (not UTF-8), the others by the name rule.
    { method: 'GET', path: `/admin/vpn/clients/${name}/profile`, expectStatus: { staff: [400, 404] } },
    { method: 'DELETE', path: `/admin/vpn/clients/${name}`, expectStatus: { staff: [400, 404] } },
  ]),
  ...[
    '..%2F..%2Fetc',
    '..',
    '%2e%2e',
    'a%2Fb',
    'x'.repeat(101),
    '%ff',
    '%',
    'lobby%20',
    'lobby%0A',
    '%F0%9F%98%80',
    'a%E2%80%AEb',
  ].map((room): HostileCase => ({
    method: 'GET',
    path: `/chat/rooms/${room}/messages`,
    expectStatus: [400, 404],
  })),
  ...[
    '/admin/assets/..%2F..%2Fpackage.json',
    '/admin/assets/admin.js%2F',
    '/admin/assets/__proto__',
    '/admin/assets/constructor',
    '/admin/assets/hasOwnProperty',
    '/admin/assets/%ff',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/..%2F..%2Fpackage.json',
    '/%2e%2e%5c%2e%2e%5cpackage.json',
    '/.env',
    '/index.html/',
    '/no/such/path%',
    '/admin/users/%ff',
    '/admin/users/%',
    '/' + 'a'.repeat(8000),
    '/admin/users?' + 'a=1&'.repeat(2000),
    '/admin/users?search=' + '%ff'.repeat(50),
    '/admin/users?search=' + 'x'.repeat(151),
    '/admin/users?search=%25%5F%5C',
    '/admin/users?search=%F0%9F%98%80%ED%A0%80',
  ].map((path): HostileCase => ({ method: 'GET', path })),
  { method: 'GET', path: '/admin/users?search=%25', as: ['staff'], expectStatus: 200 },
  { name: 'a very long URL', method: 'GET', path: '/health?x=' + 'a'.repeat(20_000), expectStatus: 431 },
  {
    name: 'a very long header',
    method: 'GET',
    path: '/health',
    headers: { 'x-big': 'a'.repeat(20_000) },
    expectStatus: 431,
  },
  {
    name: 'a very long cookie',
    method: 'GET',
    path: '/auth/me',
    headers: { cookie: `sessionid=${'x'.repeat(15_000)}` },
  },
  ...[
    'sessionid=junk',
    'sessionid=%00',
    'sessionid=%ff%fe',
    'sessionid=' + 'a'.repeat(32) + '%00',
    'sessionid="' + 'a'.repeat(32) + '"',
    'sessionid=a; sessionid=b',
    'sessionid',
    '=;=;;;',
    'csrftoken=' + 'x'.repeat(64) + '; sessionid=' + 'z'.repeat(40),
    'sessionid=__proto__; csrftoken=constructor',
  ].flatMap((cookie): HostileCase[] => [
    { method: 'GET', path: '/auth/me', headers: { cookie }, expectStatus: 401 },
    { method: 'GET', path: '/admin/users', headers: { cookie }, expectStatus: 401 },
    { method: 'POST', path: '/auth/logout', headers: { cookie, ...JSON_TYPE }, body: {} },
    { method: 'GET', path: '/admin/', headers: { cookie }, expectStatus: 200 },
  ]),
  { name: 'a body on GET', method: 'GET', path: '/admin/users', headers: JSON_TYPE, body: deepArray(5000) },
  {
    name: 'a body on GET /health',
    method: 'GET',
    path: '/health',
    headers: JSON_TYPE,
    body: '{"__proto__":1}',
  },
  { method: 'HEAD', path: '/admin/users/99999999999' },
  { method: 'OPTIONS', path: '/auth/login' },
  { method: 'TRACE', path: '/auth/login' },
  { method: 'PUT', path: '/admin/users/{victim}', headers: JSON_TYPE, body: {} },
  { method: 'PROPFIND', path: '/admin/users' },
  { method: 'GET', path: '/auth/csrf', headers: { cookie: 'csrftoken=' + 'x'.repeat(5000) } },
  { method: 'GET', path: '/metrics?name[]=x' },
  { method: 'GET', path: '/api/openapi.json?x=%00' },
  {
    name: 'Content-Length smaller than the body',
    method: 'POST',
    path: '/auth/login',
    headers: { ...JSON_TYPE, 'content-length': '5' },
    body: '{"username":"a","password":"b"}',
  },
  {
    name: 'Transfer-Encoding chunked JSON',
    method: 'POST',
    path: '/auth/login',
    headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
    body: '{"username":"a","password":"b"}',
  },
  // Wide bodies: quadratic validators (whitelist, @ArrayUnique) must not hold the event loop.
  ...BODY_ENDPOINTS.flatMap(([method, path]): HostileCase[] => [
    {
      name: `${method} ${path} with a 300,000-item array`,
      method,
      path,
      headers: JSON_TYPE,
      body: '[' + '1,'.repeat(300_000) + '1]',
      expectStatus: 400,
      expectMessage: /at most 1000 items/,
    },
    {
      name: `${method} ${path} with 50,000 keys`,
      method,
      path,
      headers: JSON_TYPE,
      body: '{' + Array.from({ length: 50_000 }, (_, i) => `"k${i}":1`).join(',') + '}',
      expectStatus: 400,
      expectMessage: /at most 1000 items/,
    },
  ]),
  {
    name: '50,000 domains',
    method: 'POST',
    path: '/admin/certs',
    headers: JSON_TYPE,
    body: { domains: Array.from({ length: 50_000 }, (_, i) => `h${i}.example.org`) },
    expectStatus: 400,
    expectMessage: /at most 1000 items/,
  },
  {
    name: '1000 domains (within the item cap, over the DTO limit)',
    method: 'POST',
    path: '/admin/certs',
    headers: JSON_TYPE,
    body: { domains: Array.from({ length: 1000 }, () => 'same.example.org') },
    expectStatus: { staff: 400, ...MINE },
  },
  // Static files and what Node answers by itself.
  ...[
    'bytes=999999999-',
    'bytes=abc',
    'bytes=5-1',
    'bytes=0-0,' + '1-1,'.repeat(500) + '2-2',
    'items=0-1',
  ].map((range): HostileCase => ({
    name: `Range ${range.slice(0, 30)}`,
    method: 'GET',
    path: '/',
    headers: { range },
  })),
  { method: 'GET', path: '/', headers: { 'if-modified-since': 'garbage', 'if-none-match': 'W/"x", *, "' } },
  {
    name: 'Expect other than 100-continue',
    method: 'GET',
    path: '/health',
    headers: { expect: 'teapot' },
    expectStatus: 417,
  },
  {
    name: 'Expect 100-continue',
    method: 'POST',
    path: '/auth/login',
    headers: { ...JSON_TYPE, expect: '100-continue' },
    body: '{}',
    expectStatus: 400,
  },
  { name: 'an absolute-form target for another host', method: 'GET', path: 'http://evil.example/health' },
  {
    name: 'Host with a bad port',
    method: 'GET',
    path: '/health',
    headers: { host: '127.0.0.1:99999999999' },
  },
  {
    name: 'a huge Host',
    method: 'GET',
    path: '/health',
    headers: { host: 'a'.repeat(10_000) },
    expectStatus: 400,
  },

  // 9. Passwords pass Django's validators; staff (not superusers here) may not grant status. Only
  // refused passwords go to the victim (its own must stay), any may create a new user.
  ...[
    '1',
    '12345678',
    'x'.repeat(4096),
    '😀'.repeat(4096),
    '\ud800'.repeat(8),
    ' '.repeat(4096),
    '١'.repeat(4096),
    '\ud800\udc00'.repeat(3),
  ].map((password): HostileCase => ({
    name: `POST /admin/users password ${JSON.stringify(password.slice(0, 12))}… (${password.length})`,
    method: 'POST',
    path: '/admin/users',
    headers: JSON_TYPE,
    body: { username: 'x'.repeat(150), password },
    expectStatus: { staff: [201, 400, 409], ...MINE },
  })),
  ...['1', '12345678', '١'.repeat(4096), '\ud800'.repeat(3), 'Victim!!'].map((password): HostileCase => ({
    name: `PATCH refused password ${JSON.stringify(password.slice(0, 12))}… (${password.length})`,
    method: 'PATCH',
    path: '/admin/users/{victim}',
    headers: JSON_TYPE,
    body: { password },
    expectStatus: { staff: 400, ...MINE },
  })),
  {
    name: 'a refused password lists its reasons',
    method: 'PATCH',
    path: '/admin/users/{victim}',
    headers: JSON_TYPE,
    body: { password: '1' },
    as: ['staff'],
    expectStatus: 400,
    expectMessage:
      'This password is too short. It must contain at least 8 characters. | This password is too common.',
  },
  ...[{ isStaff: true }, { isSuperuser: true }, { isSuperuser: false, isStaff: true }].flatMap(
    (flags): HostileCase[] => [
      {
        method: 'PATCH',
        path: '/admin/users/{victim}',
        headers: JSON_TYPE,
        body: flags,
        expectStatus: { staff: 403, ...MINE },
      },
      {
        name: `PATCH ${JSON.stringify(flags)} as staff, not superuser`,
        method: 'PATCH',
        path: '/admin/users/{victim}',
        headers: JSON_TYPE,
        body: flags,
        as: ['staff'],
        expectStatus: 403,
        expectMessage: 'Only superusers may grant or remove staff or superuser status',
      },
      {
        method: 'POST',
        path: '/admin/users',
        headers: JSON_TYPE,
        body: { username: 'would-be-staff', ...flags },
        expectStatus: { staff: 403, ...MINE },
      },
    ],
  ),

  // 9. Two-factor codes: malformed, of the wrong type, with unknown keys; a well-formed code with no
  // pending login or no device. Nobody here has two-factor on (the staff member may have a set-up started).
  ...TWO_FACTOR_BAD_CODES.flatMap((body): HostileCase[] => [
    { method: 'POST', path: '/auth/login', headers: JSON_TYPE, body, expectStatus: 400 },
    {
      method: 'POST',
      path: '/auth/login',
      headers: JSON_TYPE,
      body: { username: 'victim', password: 'not-the-password', ...body },
      expectStatus: 400,
    },
    ...['confirm', 'verify', 'disable'].map((step): HostileCase => ({
      method: 'POST',
      path: `/auth/2fa/${step}`,
      headers: JSON_TYPE,
      body,
      expectStatus: { anon: 401, user: 400, staff: 400 },
    })),
  ]),
  ...['123456', '123 456', 'abcde-fghjk'].flatMap((code): HostileCase[] => [
    {
      name: `login code step ${JSON.stringify(code)} without a pending login`,
      method: 'POST',
      path: '/auth/login',
      headers: JSON_TYPE,
      body: { code },
      expectStatus: 401,
      expectMessage: 'The login has expired',
    },
    {
      name: `login in one call with a code ${JSON.stringify(code)} and a wrong password`,
      method: 'POST',
      path: '/auth/login',
      headers: JSON_TYPE,
      body: { username: 'victim', password: 'not-the-password', code },
      expectStatus: 401,
    },
    ...['verify', 'disable'].map((step): HostileCase => ({
      method: 'POST',
      path: `/auth/2fa/${step}`,
      headers: JSON_TYPE,
      body: { code },
      expectStatus: { anon: 401, user: 409, staff: 409 },
      expectMessage: /not on for this account|credentials/,
    })),
    {
      method: 'POST',
      path: '/auth/2fa/confirm',
      headers: JSON_TYPE,
      body: { code },
      expectStatus: { anon: 401, user: 409, staff: [400, 409] },
    },
  ]),
  ...['/auth/login', '/auth/2fa/verify', '/auth/2fa/confirm'].map((path): HostileCase => ({
    method: 'POST',
    path,
    headers: JSON_TYPE,
    body: '{"code":"123456","__proto__":{"isStaff":true}}',
    expectStatus: 400,
    expectMessage: 'property __proto__ should not exist',
  })),
  ...['/auth/login', '/auth/2fa/verify'].map((path): HostileCase => ({
    method: 'POST',
    path,
    headers: JSON_TYPE,
    body: { code: '123456\u0000' },
    expectStatus: 400,
    expectMessage: NUL,
  })),
  {
    method: 'POST',
    path: '/auth/2fa/enrol',
    headers: JSON_TYPE,
    body: {},
    expectStatus: { anon: 401, user: 403, staff: 200 },
  },
  { method: 'GET', path: '/auth/2fa', expectStatus: { anon: 401, user: 200, staff: 200 } },
  { method: 'GET', path: '/auth/2fa?code[]=1&__x=%ff' },
  ...[
    ['POST', '/AUTH/2FA/VERIFY'],
    ['POST', '/auth/2fa/disable/'],
    ['POST', '/auth/2fa/Enrol'],
  ].map(([method, path]): HostileCase => ({
    name: `${method} ${path} with a session cookie and no CSRF token`,
    method,
    path,
    headers: { ...JSON_TYPE, 'x-csrftoken': null },
    body: { code: '123456' },
    as: ['user', 'staff'],
    expectStatus: 403,
    expectMessage: /CSRF Failed/,
  })),
  ...CHAT_MODERATION_CASES,
];

/** Raw bytes Node's HTTP parser itself refuses: answered by the clientError handler. */
const RAW_CASES: { name: string; data: string; expectStatus: number }[] = [
  { name: 'garbage request line', data: 'HELLO\r\n\r\n', expectStatus: 400 },
  {
    name: 'NUL in a header value',
    data: 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\u0000b\r\n\r\n',
    expectStatus: 400,
  },
  { name: 'space in the URL', data: 'GET /he alth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', expectStatus: 400 },
  {
    name: 'bad chunk size',
    data: 'POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    expectStatus: 400,
  },
  {
    name: 'Content-Length and Transfer-Encoding',
    data: 'POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    expectStatus: 400,
  },
  {
    name: 'headers over 16 KB',
    data: `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    expectStatus: 431,
  },
  { name: 'no Host header (HTTP/1.0)', data: 'GET /health HTTP/1.0\r\n\r\n', expectStatus: 400 },
  {
    name: 'no Host header (HTTP/1.1)',
    data: 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n',
    expectStatus: 400,
  },
  {
    name: 'OPTIONS *',
    data: 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    expectStatus: 404,
  },
  {
    name: 'a header line without a colon',
    data: 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n',
    expectStatus: 400,
  },
  { name: 'HTTP/2 preface on HTTP/1', data: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', expectStatus: 400 },
];

interface Answer {
  status: number;
  contentType: string;
  body: string;
  ms: number;
}

const ANSWER_LIMIT_MS = 5000;

function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Answer> {
  const started = Date.now();
  // Node sends no Content-Length for a DELETE body unless told (the body would read as a new request).
  if (body && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined)
    headers = { ...headers, 'content-length': String(body.length) };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
          ms: Date.now() - started,
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(ANSWER_LIMIT_MS, () => req.destroy(new Error(`no answer within ${ANSWER_LIMIT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function sendRaw(port: number, data: string): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(ANSWER_LIMIT_MS, () =>
      socket.destroy(new Error(`no answer within ${ANSWER_LIMIT_MS} ms`)),
    );
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(text)?.[1] ?? '';
      resolve({
        status,
        contentType,
        body: text.split('\r\n\r\n').slice(1).join('\r\n\r\n'),
        ms: Date.now() - started,
      });
    });
    socket.write(data);
  });
}

/** What is wrong with an answer in general (5xx, slow, error without the JSON error body), or null. */
function generalProblem(method: string, a: Answer): string | null {
  if (a.status >= 500 || a.status === 0) return `answered ${a.status}`;
  if (a.ms > ANSWER_LIMIT_MS) return `took ${a.ms} ms`;
  if (a.status < 400 || method === 'HEAD') return null;
  if (!a.contentType.startsWith('application/json'))
    return `error ${a.status} as ${a.contentType || 'no content type'}`;
  try {
    const body = JSON.parse(a.body) as { statusCode?: unknown; error?: unknown; message?: unknown };
    const messageOk =
      typeof body.message === 'string' ||
      (Array.isArray(body.message) && body.message.every((m) => typeof m === 'string'));
    if (body.statusCode !== a.status || typeof body.error !== 'string' || !messageOk)
      return `error body is not {statusCode, error, message}: ${a.body.slice(0, 200)}`;
  } catch {
    return `error body is not JSON: ${a.body.slice(0, 200)}`;
  }
  return null;
}

function messageOf(a: Answer): string {
  try {
    const m = (JSON.parse(a.body) as { message?: unknown }).message;
    return Array.isArray(m) ? m.join(' | ') : String(m);
  } catch {
    return a.body;
  }
}

describe.each(databaseVariants())('hostile input on $name', (variant) => {
  let t: TestApp;
  let teardownDb: () => Promise<void>;
  const sessions = {} as Record<Identity, LoginSession>;
  let victimId = 0;

  beforeAll(async () => {
    const db = await variant.setup();
    teardownDb = db.teardown;
    // The login throttle would answer 429 to the corpus' many refused logins from one address. One
    // trusted proxy: X-Forwarded-Proto makes a request HTTPS, for the Origin/Referer checks.
    t = await startApp({
      ...db.env,
      LOGIN_MAX_FAILURES: '100000',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '100000',
      TRUST_PROXY: 'true',
    });
    await createUser(t, { username: 'boss', password: 'boss-pass', isStaff: true });
    await createUser(t, { username: 'joe', password: 'joe-pass' });
    victimId = (await createUser(t, { username: 'victim', password: 'victim-pass' })).id;
    sessions.staff = await login(t, 'boss', 'boss-pass');
    sessions.user = await login(t, 'joe', 'joe-pass');
    sessions.anon = await anonymousCsrf(t);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await teardownDb?.();
  });

  function headersFor(who: Identity, extra: Record<string, string | null> = {}): Record<string, string> {
    const merged: Record<string, string | null> = {
      cookie: sessions[who].cookie,
      'x-csrftoken': sessions[who].csrf,
      ...extra,
    };
    return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== null));
  }

  function expectedFor(c: HostileCase, who: Identity): number[] | undefined {
    const e = c.expectStatus;
    if (e === undefined) return undefined;
    if (typeof e === 'number') return [e];
    if (Array.isArray(e)) return e;
    const mine = e[who];
    return mine === undefined ? undefined : Array.isArray(mine) ? mine : [mine];
  }

  it(`answers every corpus entry (${CORPUS.length}) with a timely non-5xx and JSON errors, as anyone`, async () => {
    const failures: string[] = [];
    for (const c of CORPUS) {
      const path = c.path.replace(/\{victim\}/g, String(victimId));
      const body =
        c.body === undefined
          ? undefined
          : Buffer.isBuffer(c.body)
            ? c.body
            : Buffer.from(typeof c.body === 'string' ? c.body : JSON.stringify(c.body));
      for (const who of c.as ?? IDENTITIES) {
        const label = `[${who}] ${c.name ?? `${c.method} ${path.slice(0, 100)}`}`;
        let answer: Answer;
        try {
          answer = await send(t.port, c.method, path, headersFor(who, c.headers), body);
        } catch (err) {
          failures.push(`${label}: ${(err as Error).message}`);
          continue;
        }
        const problem = generalProblem(c.method, answer);
        if (problem) failures.push(`${label}: ${problem}`);
        const expected = expectedFor(c, who);
        if (expected && !expected.includes(answer.status))
          failures.push(
            `${label}: expected ${expected.join(' or ')}, got ${answer.status} ${messageOf(answer).slice(0, 200)}`,
          );
        if (expected && c.expectMessage !== undefined) {
          const m = messageOf(answer);
          const ok =
            typeof c.expectMessage === 'string' ? m.includes(c.expectMessage) : c.expectMessage.test(m);
          if (!ok)
            failures.push(
              `${label}: message ${JSON.stringify(m.slice(0, 200))} lacks ${String(c.expectMessage)}`,
            );
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it.each(RAW_CASES)(
    'answers raw bytes the HTTP parser refuses ($name) with a JSON $expectStatus',
    async (c) => {
      const answer = await sendRaw(t.port, c.data);
      expect(generalProblem('GET', answer)).toBeNull();
      expect(answer.status).toBe(c.expectStatus);
    },
  );

  it('refuses deep JSON on login without logging in, and takes 32 levels', async () => {
    const headers = headersFor('anon', JSON_TYPE);
    const deep = await send(
      t.port,
      'POST',
      '/auth/login',
      headers,
      Buffer.from(`{"username":${deepArray(3000)}}`),
    );
    expect(deep.status).toBe(400);
    expect(JSON.parse(deep.body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'JSON nesting too deep: at most 32 levels of objects and arrays',
    });
    // 31 arrays inside the object: 32 levels, refused by the login rules, not by the depth cap.
    const ok = await send(
      t.port,
      'POST',
      '/auth/login',
      headers,
      Buffer.from(`{"username":${deepArray(31)}}`),
    );
    expect(ok.status).toBe(400);
    expect(messageOf(ok)).not.toMatch(TOO_DEEP);
  });

  it('a gzipped login body works; one that does not inflate is a 400, an unknown encoding a 415', async () => {
    const headers = headersFor('anon', { ...JSON_TYPE, 'content-encoding': 'gzip' });
    const good = await send(
      t.port,
      'POST',
      '/auth/login',
      headers,
      gzipSync('{"username":"joe","password":"nope"}'),
    );
    expect(good.status).toBe(401);
    const bad = await send(t.port, 'POST', '/auth/login', headers, Buffer.from('not gzip at all'));
    expect(bad.status).toBe(400);
    expect(messageOf(bad)).toBe('Request body could not be decompressed (Content-Encoding)');
    const unknown = await send(
      t.port,
      'POST',
      '/auth/login',
      { ...headers, 'content-encoding': 'snappy' },
      Buffer.from('{}'),
    );
    expect(unknown.status).toBe(415);
  });

  it('refuses NUL in a search, and a search never matches everyone by accident', async () => {
    const headers = headersFor('staff');
    const nul = await send(t.port, 'GET', '/admin/users?search=%00', headers);
    expect(nul.status).toBe(400);
    expect(JSON.parse(nul.body).message).toEqual(['search must not contain NUL (U+0000) characters']);
    const none = await send(t.port, 'GET', '/admin/users?search=no-such-user-anywhere', headers);
    expect(JSON.parse(none.body).count).toBe(0);
  });

  it('refuses __proto__ and leaves the created user unprivileged', async () => {
    const headers = headersFor('staff', JSON_TYPE);
    const res = await send(
      t.port,
      'POST',
      '/admin/users',
      headers,
      Buffer.from('{"username":"proto-check","__proto__":{"isStaff":true}}'),
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).message).toEqual(['property __proto__ should not exist']);
    const list = await send(t.port, 'GET', '/admin/users?search=proto-check', headersFor('staff'));
    expect(JSON.parse(list.body).count).toBe(0);
  });

  it('checks CSRF on login however the path is spelled, and still logs in with the token', async () => {
    for (const path of ['/auth/login', '/auth/login/', '/AUTH/LOGIN', '/auth/Login']) {
      const res = await send(
        t.port,
        'POST',
        path,
        JSON_TYPE,
        Buffer.from('{"username":"victim","password":"victim-pass"}'),
      );
      expect({ path, status: res.status, message: messageOf(res) }).toEqual({
        path,
        status: 403,
        message: 'CSRF Failed: CSRF cookie not set.',
      });
    }
    const ok = await send(
      t.port,
      'POST',
      '/AUTH/LOGIN/',
      headersFor('anon', JSON_TYPE),
      Buffer.from('{"username":"victim","password":"victim-pass"}'),
    );
    expect(ok.status).toBe(200);
  });

  it('the ACME exemption does not reach static files', async () => {
    const res = await send(t.port, 'GET', '/.well-known/acme-challenge/../../index.html', {
      host: 'evil.example',
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Invalid Host header',
    });
  });

  it('concurrent renames to one username: one wins, the others get 409, none a 500', async () => {
    const ids = await Promise.all(
      ['racer1', 'racer2', 'racer3', 'racer4'].map(
        async (username) => (await createUser(t, { username })).id,
      ),
    );
    const answers = await Promise.all(
      ids.map((id) =>
        send(
          t.port,
          'PATCH',
          `/admin/users/${id}`,
          headersFor('staff', JSON_TYPE),
          Buffer.from('{"username":"same-name"}'),
        ),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409]);
  });

  it('still answers /health and serves staff afterwards', async () => {
    const health = await send(t.port, 'GET', '/health', {});
    expect(health.status).toBe(200);
    expect(health.ms).toBeLessThan(ANSWER_LIMIT_MS);
    const users = await send(t.port, 'GET', '/admin/users', headersFor('staff'));
    expect(users.status).toBe(200);
    expect(JSON.parse(users.body).count).toBeGreaterThanOrEqual(3);
  });
});
