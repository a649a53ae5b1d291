import { ArgumentsHost, Catch, ExceptionFilter, HttpStatus } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';
import { DomainError, type DomainErrorCode } from '../core/domain.error.js';
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
 * A domain error or an unreachable store on the REST side, as
 * `{statusCode, error, message}` like Nest's own HTTP errors.
 */
@Catch(DomainError, StoreUnavailableError)
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: DomainError | StoreUnavailableError, host: ArgumentsHost): void {
    const status = exception instanceof DomainError ? STATUS[exception.code] : HttpStatus.SERVICE_UNAVAILABLE;
    const response = host.switchToHttp().getResponse<Response>();
    if (exception instanceof DomainError && exception.retryAfterMs !== undefined) {
      response.setHeader('Retry-After', String(Math.max(1, Math.ceil(exception.retryAfterMs / 1000))));
    }
    response
      .status(status)
      .json({ statusCode: status, error: STATUS_CODES[status], message: exception.message });
  }
}
