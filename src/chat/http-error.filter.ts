import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { DomainError, type DomainErrorCode } from '../core/domain.error.js';
import { errorBody } from '../core/error-body.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';

const STATUS: Record<DomainErrorCode, number> = {
  not_found: HttpStatus.NOT_FOUND,
  forbidden: HttpStatus.FORBIDDEN,
  not_a_member: HttpStatus.FORBIDDEN,
  content_too_long: HttpStatus.BAD_REQUEST,
  invalid_input: HttpStatus.BAD_REQUEST,
  limit_reached: HttpStatus.CONFLICT,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
};

/**
 * Every failure on the REST side as `{statusCode, error, message}`: a
 * domain error or an unreachable store by its code, Nest's HTTP errors as
 * they are, anything else (a bug, a damaged store) 500 and logged, never
 * its message.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    if (response.headersSent) {
      // A body was under way (a file being streamed): it cannot become an error now, only stop.
      this.logger.error(exception);
      response.destroy();
      return;
    }
    // What a handler set for the answer it meant to give (a file's type and caching) is not this answer's.
    for (const header of ['Content-Type', 'Content-Disposition', 'Cache-Control']) response.removeHeader(header);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      // `new NotFoundException()` says only `{statusCode, message}`: the shape's `error` is its status's name.
      const answer = typeof body === 'object' ? withoutQuery(body, http.getRequest<Request>()) : { statusCode: status, message: body };
      response.status(status).json({ error: STATUS_CODES[status], ...answer });
      return;
    }
    if (!(exception instanceof DomainError || exception instanceof StoreUnavailableError)) {
      this.logger.error(exception);
      const status = HttpStatus.INTERNAL_SERVER_ERROR;
      response.status(status).json(errorBody(status, 'Internal server error'));
      return;
    }
    const status = exception instanceof DomainError ? STATUS[exception.code] : HttpStatus.SERVICE_UNAVAILABLE;
    if (exception instanceof DomainError && exception.retryAfterMs !== undefined) {
      response.setHeader('Retry-After', String(Math.max(1, Math.ceil(exception.retryAfterMs / 1000))));
    }
    response.status(status).json(errorBody(status, exception.message));
  }
}

/** How much of an unknown path a 404 quotes back: enough to recognise it, not a 15 KB echo. */
const MAX_PATH_QUOTED = 200;

/**
 * Nest answers a path no route serves with `Cannot <method> <url>`, the query
 * string quoted too (a `?token=` among what it may hold): the path says
 * enough, cut at MAX_PATH_QUOTED.
 */
function withoutQuery(body: object, request: Request): object {
  const url = request.originalUrl;
  if ((body as { message?: unknown }).message !== `Cannot ${request.method} ${url}`) return body;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  if (path === url && path.length <= MAX_PATH_QUOTED) return body;
  return { ...body, message: `Cannot ${request.method} ${path.length > MAX_PATH_QUOTED ? `${path.slice(0, MAX_PATH_QUOTED)}…` : path}` };
}

/**
 * Express error middleware for what the body parsers refuse (too large,
 * bad encoding or charset, a gzip body that is not gzip): answered in the
 * same `{statusCode, error, message}` shape, with their own status and
 * message, before Nest's error handling sees them.
 */
export function answerBodyErrors(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  const { status, expose, message } = (error ?? {}) as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499 || expose !== true || res.headersSent) return next(error);
  res.status(status).json(errorBody(status, String(message)));
}
