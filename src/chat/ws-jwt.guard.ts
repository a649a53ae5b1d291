import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { TokenService } from '../auth/token.service.js';
import { ChatError } from './chat.error.js';
import type { Connection } from './connection.js';
import { ConnectionRegistry } from './connection.registry.js';
import { CloseCode } from './protocol.js';

/**
 * Lets a frame through only while its connection's token is valid. Guards
 * do not run on the connection itself, so the upgrade verifies the token
 * once and the connection carries the session. The expiry timer closes the
 * socket at the deadline; this guard covers the frames that race it.
 *
 * `ChatWsAdapter` runs `check` for every frame before its handler, as a
 * plain call: Nest's guard machinery per frame (an execution context and
 * awaits) would add nothing to the answer.
 */
@Injectable()
export class WsJwtGuard implements CanActivate {
  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly tokens: TokenService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    this.check(this.connections.get(context.switchToWs().getClient<WebSocket>()));
    return true;
  }

  /** Throws `token_invalid` for a connection that is not (or no longer) authenticated; closes it once expired. */
  check(connection: Connection | undefined): asserts connection is Connection {
    if (!connection) throw new ChatError('token_invalid', 'The connection is not authenticated');
    const deadline = this.tokens.deadline(connection.session);
    if (deadline !== null && deadline <= Date.now()) {
      connection.close(CloseCode.policy, 'token_expired');
      throw new ChatError('token_invalid', 'The token has expired');
    }
  }
}
