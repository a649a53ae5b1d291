import { ArgumentsHost, Catch, ExceptionFilter, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { DomainError, type DomainErrorCode } from '../core/domain.error.js';
import { AppLogger } from '../logging/app-logger.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';
import { ChatError } from './chat.error.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection.registry.js';
import { FrameMetrics, frameTypeLabel } from './frame-metrics.js';
import type { ErrorCode, ServerFrame } from './protocol.js';

type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

/** The protocol's code for each domain error; REST-only refusals have none and are a bug on the socket. */
const FRAME_CODE: Record<DomainErrorCode, ErrorCode | undefined> = {
  not_a_member: 'not_a_member',
  content_too_long: 'content_too_long',
  invalid_input: 'invalid_frame',
  rate_limited: 'rate_limited',
  not_found: undefined,
  forbidden: undefined,
  limit_reached: undefined,
};

/**
 * Turns whatever a frame handler throws into the protocol's `error` frame,
 * carrying the frame's `ref`. Nest's own WS filter emits Socket.IO-style
 * events that a raw `ws` socket never sends, hence this one.
 */
@Catch()
@Injectable()
export class WsErrorFilter implements ExceptionFilter {
  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly frames: FrameMetrics,
    private readonly appLogger: AppLogger,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const connection = this.connections.get(ws.getClient<WebSocket>());
    const frame = ws.getData<{ type?: unknown; ref?: string } | undefined>();
    const answer = toErrorFrame(exception, (error) => logFailure(this.appLogger, WsErrorFilter.name, connection, error, frame?.type));
    connection?.send(answer, frame?.ref);
    if (frame) this.frames.failed(frame, answer.code);
  }
}

/**
 * An unexpected failure of a frame's handling, as an error line with `err`
 * (type, message, stack) and, when the connection is known, its
 * `connection_id` and `user_id`, like every other line about a connection.
 */
export function logFailure(appLogger: AppLogger, context: string, connection: Connection | undefined, error: unknown, frameType?: unknown): void {
  if (!connection) return appLogger.error(error, context);
  const frame_type = typeof frameType === 'string' ? frameTypeLabel(frameType) : undefined;
  appLogger.forConnection(connection.logFields, context).error({ err: error, frame_type }, 'a frame could not be handled');
}

/** The `error` frame for a failure; anything unexpected is `internal_error`, and `logFailure` writes it to the log only. */
export function toErrorFrame(exception: unknown, logFailure: (error: unknown) => void): ErrorFrame {
  if (exception instanceof ChatError) return errorFrame(exception.code, exception.message, exception.roomId);
  if (exception instanceof StoreUnavailableError) return errorFrame('unavailable', exception.message);
  const code = exception instanceof DomainError ? FRAME_CODE[exception.code] : undefined;
  if (exception instanceof DomainError && code) return errorFrame(code, exception.message, exception.roomId);
  logFailure(exception);
  return { type: 'error', code: 'internal_error', message: 'Internal error' };
}

function errorFrame(code: ErrorCode, message: string, roomId?: string): ErrorFrame {
  return roomId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, room_id: roomId };
}
