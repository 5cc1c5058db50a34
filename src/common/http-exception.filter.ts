import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { describeDatabaseError, isDatabaseUnavailable } from '../database/database-errors';
import { DomainException } from './domain.exception';

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

/** Seconds a client should wait before retrying a 503 (the database timeouts are a few seconds). */
const RETRY_AFTER_SECONDS = '5';

/**
 * Every error leaves as `{statusCode, error, message}`: a feature's domain exception with its kind's
 * status, an HTTP exception (request-shape problems) with its own; anything unexpected is logged and
 * is a 500.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<Request>();
    let statusCode = HttpStatus.INTERNAL_SERVER_ERROR;
    let message: string | string[] = 'Internal server error';
    if (exception instanceof DomainException) {
      statusCode = exception.status;
      message = exception.messages;
    } else if (exception instanceof HttpException) {
      statusCode = exception.getStatus();
      const body = exception.getResponse();
      message =
        typeof body === 'string'
          ? body
          : ((body as { message?: string | string[] }).message ?? exception.message);
    } else if (isDatabaseUnavailable(exception)) {
      // The database is unreachable, silent past its time limits, or cannot write: retry later.
      statusCode = HttpStatus.SERVICE_UNAVAILABLE;
      message = `Database unavailable: ${describeDatabaseError(exception)}`;
      this.logger.warn({
        event: 'database_unavailable',
        method: req.method,
        path: req.path,
        error: (exception as Error)?.message,
      });
    } else if (isBodyParserError(exception)) {
      statusCode = exception.status;
      message =
        exception.type === 'entity.too.large'
          ? 'Request body is too large'
          : 'Malformed JSON in request body';
    } else {
      const err = exception as Error;
      this.logger.error(
        { event: 'unhandled_error', method: req.method, path: req.path, error: err?.message },
        err?.stack,
      );
    }
    if (res.headersSent) return;
    if (statusCode === HttpStatus.SERVICE_UNAVAILABLE) res.setHeader('Retry-After', RETRY_AFTER_SECONDS);
    // An answer asking for the second factor says so (auth's OtpRequiredException): clients branch on it.
    const otp = exception instanceof HttpException && asksForOtp(exception.getResponse());
    const body = { statusCode, error: REASONS[statusCode] ?? 'Error', message };
    res.status(statusCode).json(otp ? { ...body, otp_required: true } : body);
  }
}

function asksForOtp(body: unknown): boolean {
  return (
    typeof body === 'object' && body !== null && (body as { otp_required?: unknown }).otp_required === true
  );
}

function isBodyParserError(e: unknown): e is { status: number; type: string } {
  const x = e as { status?: unknown; type?: unknown };
  return typeof x?.status === 'number' && x.status >= 400 && x.status < 500 && typeof x.type === 'string';
}
