import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

const REASONS: Record<number, string> = Object.fromEntries(
  Object.entries(HttpStatus)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [
      v as number,
      k
        .split('_')
        .map((w) => w[0] + w.slice(1).toLowerCase())
        .join(' '),
    ]),
);

/** Every error leaves as `{statusCode, error, message}`; anything unexpected is logged and is a 500. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    let statusCode = HttpStatus.INTERNAL_SERVER_ERROR;
    let message: string | string[] = 'Internal server error';
    if (exception instanceof HttpException) {
      statusCode = exception.getStatus();
      const body = exception.getResponse();
      message =
        typeof body === 'string'
          ? body
          : ((body as { message?: string | string[] }).message ?? exception.message);
    } else if (isBodyParserError(exception)) {
      statusCode = exception.status;
      message =
        exception.type === 'entity.too.large'
          ? 'Request body is too large'
          : 'Malformed JSON in request body';
    } else {
      const err = exception as Error;
      this.logger.error(
        JSON.stringify({ event: 'unhandled_error', method: req.method, path: req.path, error: err?.message }),
        err?.stack,
      );
    }
    if (res.headersSent) return;
    res.status(statusCode).json({ statusCode, error: REASONS[statusCode] ?? 'Error', message });
  }
}

function isBodyParserError(e: unknown): e is { status: number; type: string } {
  const x = e as { status?: unknown; type?: unknown };
  return typeof x?.status === 'number' && x.status >= 400 && x.status < 500 && typeof x.type === 'string';
}
