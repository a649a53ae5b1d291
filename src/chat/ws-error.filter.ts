import { ArgumentsHost, Catch, ExceptionFilter, Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { ChatError } from './chat.error.js';
import { ConnectionRegistry } from './connection.registry.js';
import type { ServerFrame } from './protocol.js';

/**
 * Turns whatever a frame handler throws into the protocol's `error` frame,
 * carrying the frame's `ref`. Nest's own WS filter emits Socket.IO-style
 * events that a raw `ws` socket never sends, hence this one.
 */
@Catch()
@Injectable()
export class WsErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(WsErrorFilter.name);

  constructor(private readonly connections: ConnectionRegistry) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const connection = this.connections.get(ws.getClient<WebSocket>());
    const ref = ws.getData<{ ref?: string } | undefined>()?.ref;
    connection?.send(toErrorFrame(exception, this.logger), ref);
  }
}

export function toErrorFrame(exception: unknown, logger: Logger): Extract<ServerFrame, { type: 'error' }> {
  if (exception instanceof ChatError && exception.code !== 'not_found' && exception.code !== 'forbidden') {
    const frame = { type: 'error' as const, code: exception.code, message: exception.message };
    return exception.roomId === undefined ? frame : { ...frame, room_id: exception.roomId };
  }
  logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return { type: 'error', code: 'internal_error', message: 'Internal error' };
}
