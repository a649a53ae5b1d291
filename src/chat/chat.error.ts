import { HttpStatus } from '@nestjs/common';
import { ErrorCode } from './protocol.js';

/** Codes that only the REST side answers with. */
type RestOnlyCode = 'not_found' | 'forbidden';

/**
 * The one error type the services throw. The WebSocket filter turns it into
 * an `error` frame, the REST filter into the status below.
 */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode | RestOnlyCode,
    message: string,
    readonly roomId?: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }

  get httpStatus(): number {
    switch (this.code) {
      case 'not_found':
        return HttpStatus.NOT_FOUND;
      case 'forbidden':
      case 'not_a_member':
      case 'not_joined':
        return HttpStatus.FORBIDDEN;
      case 'rate_limited':
        return HttpStatus.TOO_MANY_REQUESTS;
      case 'unavailable':
        return HttpStatus.SERVICE_UNAVAILABLE;
      case 'token_invalid':
        return HttpStatus.UNAUTHORIZED;
      case 'internal_error':
        return HttpStatus.INTERNAL_SERVER_ERROR;
      default:
        return HttpStatus.BAD_REQUEST;
    }
  }
}
