import { applyDecorators, INestApplication } from '@nestjs/common';
import { ApiProperty, ApiResponse, DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { TOKEN_SCOPES, TOKEN_SECURITY } from '../auth/tokens/scopes';
import { AppConfig } from '../config/app.config';

/** Every error answer: `{statusCode, error, message}` (see HttpExceptionFilter). */
export class ErrorBody {
  @ApiProperty({ example: 400 })
  statusCode!: number;
  @ApiProperty({ example: 'Bad Request' })
  error!: string;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'username must be 1 to 150 letters, digits and @.+-_',
  })
  message!: string | string[];
}

const ERROR_MEANINGS: Record<number, string> = {
  400: 'Invalid input; `message` says what is wrong',
  401: 'Not logged in (no valid session cookie)',
  403:
    'Logged in but not staff, or the CSRF token is missing or wrong; on /admin with `otp_required: true`, ' +
    'the session has not passed two-factor (or STAFF_2FA=required and the account has not set it up)',
  404: 'No such resource',
  409: 'Conflicts with the current state (already exists, already running)',
  410: 'Gone (revoked)',
  429: 'Too many attempts; see Retry-After',
  503: 'A tool or service this needs is unavailable',
};

/** Documents the error answers an endpoint can give, all with the shared error body. */
export function ApiErrors(...codes: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...codes.map((status) =>
      ApiResponse({ status, description: ERROR_MEANINGS[status] ?? 'Error', type: ErrorBody }),
    ),
  );
}

/** Staff endpoints: cookie session + CSRF header, 401 anonymous, 403 non-staff. */
export const STAFF_ERRORS = [401, 403] as const;

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  // The cookie names are this installation's (SESSION_COOKIE_NAME, CSRF_COOKIE_NAME).
  const { sessionCookieName, csrfCookieName } = app.get(AppConfig);
  const config = new DocumentBuilder()
    .setTitle('live')
    .setDescription(
      'Real-time room chat, Django-like users and auth, and admin ops (certificates, VPN). ' +
        `Authenticate with POST /auth/login (sets the \`${sessionCookieName}\` cookie); unsafe methods also ` +
        `need the \`X-CSRFToken\` header equal to the \`${csrfCookieName}\` cookie (GET /auth/csrf hands ` +
        'one out) and, over HTTPS, an Origin or Referer of this site or of CSRF_TRUSTED_ORIGINS. ' +
        'Accounts with two-factor (staff, TOTP) log in in two steps: the password answers 401 with ' +
        '`otp_required: true` and a short-lived `live_otp_pending` cookie, then `{code}` logs in (or send ' +
        '`{username, password, code}` at once); the two-factor endpoints are under /auth/2fa. ' +
        'Programs authenticate with an API token instead: `Authorization: Token <key>` (see the `token` ' +
        'scheme), narrowed to its scopes. ' +
        'Chat itself is a WebSocket at /chat/<room>/ (see the README).',
    )
    .setVersion('1')
    .addCookieAuth(sessionCookieName, { type: 'apiKey', in: 'cookie', name: sessionCookieName }, 'session')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-CSRFToken' }, 'csrf')
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description:
          '`Token <key>` (Django REST framework’s header) or `Bearer <key>`, a key from POST /auth/tokens. ' +
          'No cookie and no CSRF header. Operations that accept tokens name the scope they need in ' +
          `\`x-token-scope\` (one of ${TOKEN_SCOPES.map((s) => `\`${s}\``).join(', ')}, or \`any\`); ` +
          'the others answer a token with 403.',
      },
      TOKEN_SECURITY,
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN' }, 'metrics-token')
    .addGlobalResponse({ status: 500, description: 'Never expected; reported as a bug', type: ErrorBody })
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorBody] });
  document.security = [{ session: [], csrf: [] }];
  return document;
}

/** The API description at /api/openapi.json and a browsable UI at /api/docs (assets served locally). */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'api/openapi.json',
    yamlDocumentUrl: 'api/openapi.yaml',
    customSiteTitle: 'live API',
  });
}
