import { ArgumentsHost, BadRequestException, Logger } from '@nestjs/common';
import { AlertsError } from '../alerts/alerts.exception';
import { AuthError } from '../auth/auth.exception';
import { PasswordRejected } from '../auth/password-validation';
import { CertsError } from '../ops/certs/certs.exception';
import { VpnError } from '../ops/vpn/vpn.exception';
import { DomainException, HTTP_STATUS_OF_KIND } from './domain.exception';
import { HttpExceptionFilter } from './http-exception.filter';

function answer(exception: unknown) {
  const res = {
    statusCode: 0,
    body: undefined as unknown,
    headers: {} as Record<string, string>,
    headersSent: false,
    status(code: number) {
      this.statusCode = code;
      return this;
    },
    json(body: unknown) {
      this.body = body;
      return this;
    },
    setHeader(name: string, value: string) {
      this.headers[name] = value;
    },
  };
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => ({ method: 'GET', path: '/x' }) }),
  } as unknown as ArgumentsHost;
  new HttpExceptionFilter().catch(exception, host);
  return res;
}

describe('HttpExceptionFilter', () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'error').mockImplementation());
  afterAll(() => jest.restoreAllMocks());

  const cases: Array<[DomainException, number, string, string | undefined]> = [
    [new AuthError('not_found', 'No user with id 7'), 404, 'Not Found', 'No user with id 7'],
    [new AuthError('conflict', 'A user with username "a" already exists'), 409, 'Conflict', undefined],
    [new AuthError('invalid', 'You cannot delete your own account'), 400, 'Bad Request', undefined],
    [new CertsError('conflict', 'A certificate run is already in progress'), 409, 'Conflict', undefined],
    [new AlertsError('conflict', 'No alert channel is configured'), 409, 'Conflict', undefined],
    [new VpnError('gone', 'client "a" has been revoked'), 410, 'Gone', undefined],
    [
      new VpnError('tool_failed', 'easyrsa failed (exit 1)', 'Request file already exists'),
      502,
      'Bad Gateway',
      'easyrsa failed (exit 1): Request file already exists',
    ],
    [
      new VpnError('unavailable', 'the Docker daemon is not reachable', 'Cannot connect'),
      503,
      'Service Unavailable',
      'the Docker daemon is not reachable: Cannot connect',
    ],
  ];
  it.each(cases.map(([err, ...rest]) => [`${err.name} ${err.kind}`, err, ...rest] as const))(
    'answers %s as {statusCode, error, message}',
    (_label, err, statusCode, error, message) => {
      const res = answer(err);
      expect(res.statusCode).toBe(statusCode);
      expect(res.body).toEqual({ statusCode, error, message: message ?? err.message });
    },
  );

  it('answers a refused password with every reason as the message list', () => {
    const reasons = [
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
    ];
    expect(answer(new PasswordRejected(reasons)).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: reasons,
    });
  });

  it('gives every kind a status and a 503 a Retry-After', () => {
    for (const [kind, status] of Object.entries(HTTP_STATUS_OF_KIND)) {
      const err = new VpnError(kind as VpnError['kind'], 'x');
      expect(err).toBeInstanceOf(DomainException);
      expect(err.status).toBe(status);
      expect(answer(err).statusCode).toBe(status);
    }
    expect(answer(new VpnError('unavailable', 'x')).headers['Retry-After']).toBe('5');
  });

  it("keeps Nest's HTTP exceptions (request-shape problems) and hides anything unexpected", () => {
    expect(answer(new BadRequestException(['name must be a string'])).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['name must be a string'],
    });
    expect(answer(new Error('secret internals')).body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
  });
});
