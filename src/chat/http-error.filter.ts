import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';
import { ChatError } from './chat.error.js';

/** A `ChatError` on the REST side: `{statusCode, error, message}` like Nest's own HTTP errors. */
@Catch(ChatError)
export class HttpErrorFilter implements ExceptionFilter {
  catch(exception: ChatError, host: ArgumentsHost): void {
    const status = exception.httpStatus;
    host
      .switchToHttp()
      .getResponse<Response>()
      .status(status)
      .json({ statusCode: status, error: STATUS_CODES[status], message: exception.message });
  }
}
