import { BadRequestException, INestApplication, LoggerService, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AppModule } from './app.module';
import { ChatWsAdapter } from './chat/chat-ws.adapter';
import { httpAccessLog } from './common/access-log';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { createRootLogger, nestLogger, serverLogger } from './common/logging';
import {
  answerClientErrorsAsJson,
  httpErrorsAsExceptions,
  isAcmeChallengeRequest,
  jsonBodyParser,
  rejectHostileInput,
} from './common/request-hardening';
import { setupOpenApi } from './common/openapi';
import { PAGE_CSP, publicDir } from './common/public-files';
import { AppConfig } from './config/app.config';
import { LiveConfiguration } from './config/configuration';
import { proxyTrust, trustsAnyProxy } from './config/trust-proxy';

/**
 * The Nest logger for one-shot commands (manage): LOG_LEVEL and LOG_FORMAT as the server's, on
 * stderr so that log lines never mix with a command's output.
 */
export function createLogger(config: AppConfig): LoggerService {
  return nestLogger(createRootLogger(config, 2));
}

/** Builds the whole HTTP + WebSocket app (not yet listening). Shared by main.ts and the e2e tests. */
export async function createApp(configuration: LiveConfiguration): Promise<INestApplication> {
  const config = configuration.app;
  // The logger is given up front rather than buffered until app.useLogger: a failure while Nest
  // builds the modules is then logged as JSON too (a buffer is flushed through Nest's console logger).
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(configuration), {
    logger: nestLogger(serverLogger(config)),
    bodyParser: false,
  });
  const express = app.getHttpAdapter().getInstance();
  express.disable('x-powered-by');
  // A hop count or the proxies' addresses, never `true`: Express then takes the address the trusted
  // proxy appended (right-most), not the left-most one that any client can write into X-Forwarded-For.
  // The same trust function as the WebSocket handshake's (src/config/trust-proxy.ts).
  if (trustsAnyProxy(config.trustProxy)) app.set('trust proxy', proxyTrust(config.trustProxy));
  // First of all middleware: requests answered by the host check, the input rules or the static
  // files get their access line too.
  app.use(httpAccessLog(serverLogger(config)));
  // Django's ALLOWED_HOSTS: refuse requests for hosts this site does not serve.
  app.use((req: Request, res: Response, next: NextFunction) => {
    // ACME http-01 validation asks for the domain being certified, which may not be listed yet:
    // exempt exactly GET /.well-known/acme-challenge/<token>, never a path that normalizes elsewhere.
    if (config.isAllowedHost(req.headers.host) || isAcmeChallengeRequest(req)) return next();
    res.status(400).json({ statusCode: 400, error: 'Bad Request', message: 'Invalid Host header' });
  });
  // JSON bodies (1 MB, gzip/deflate/br accepted, parser errors as 4xx), then the input rules that
  // hold before any guard or pipe: nesting depth, NUL, prototype keys (src/common/request-hardening.ts).
  app.use(jsonBodyParser());
  app.use(rejectHostileInput);
  answerClientErrorsAsJson(app.getHttpServer());
  servePublicFiles(app);
  app.use(httpErrorsAsExceptions);
  app.useGlobalFilters(new HttpExceptionFilter());
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      // One message per rule broken (a field's @IsInt/@Min/@Max often share their message).
      exceptionFactory: (errors) =>
        new BadRequestException([
          ...new Set(
            errors.flatMap((e) =>
              Object.values(e.constraints ?? { [e.property]: `${e.property} is invalid` }),
            ),
          ),
        ]),
    }),
  );
  app.useWebSocketAdapter(new ChatWsAdapter(app));
  setupOpenApi(app);
  app.enableShutdownHooks();
  return app;
}

/** GET / is the chat page: HTML, CSS and JavaScript served by the app itself (no CDN). */
function servePublicFiles(app: NestExpressApplication): void {
  const dir = publicDir();
  if (!dir) return;
  app.useStaticAssets(dir, {
    index: 'index.html',
    // Unknown paths fall through to Nest (JSON 404s); revalidate so a deploy is seen at once.
    fallthrough: true,
    maxAge: 0,
    etag: true,
    setHeaders: (res) => {
      res.setHeader('Content-Security-Policy', PAGE_CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'same-origin');
    },
  });
}
