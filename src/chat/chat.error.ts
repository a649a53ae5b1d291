import type { ErrorCode } from './protocol.js';

/**
 * A protocol error raised at the socket edge (an invalid frame, a frame for
 * a room not joined, an expired token): `WsErrorFilter` writes it as an
 * `error` frame. Domain rules throw `DomainError` instead, which the edge maps.
 */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly roomId?: string,
  ) {
    super(message);
    this.name = 'ChatError';
  }
}
