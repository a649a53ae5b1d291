import { ArgumentsHost, Catch, ExceptionFilter, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { DomainError, type DomainErrorCode } from '../core/domain.error.js';
import { StoreUnavailableError } from '../redis/store-unavailable.error.js';
import { ChatError } from './chat.error.js';
import { ConnectionRegistry } from './connection.registry.js';
import { FrameMetrics } from './frame-metrics.js';
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
  private readonly logger = new Logger(WsErrorFilter.name);

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly frames: FrameMetrics,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const connection = this.connections.get(ws.getClient<WebSocket>());
    const frame = ws.getData<{ ref?: string } | undefined>();
    const answer = toErrorFrame(exception, this.logger);
    connection?.send(answer, frame?.ref);
    if (frame) this.frames.failed(frame, answer.code);
  }
}

/** The `error` frame for a failure; anything unexpected is `internal_error`, its stack goes to the log only. */
export function toErrorFrame(exception: unknown, logger: Logger): ErrorFrame {
  if (exception instanceof ChatError) return errorFrame(exception.code, exception.message, exception.roomId);
  if (exception instanceof StoreUnavailableError) return errorFrame('unavailable', exception.message);
  const code = exception instanceof DomainError ? FRAME_CODE[exception.code] : undefined;
  if (exception instanceof DomainError && code) return errorFrame(code, exception.message, exception.roomId);
  logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return { type: 'error', code: 'internal_error', message: 'Internal error' };
}

function errorFrame(code: ErrorCode, message: string, roomId?: string): ErrorFrame {
  return roomId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, room_id: roomId };
}
