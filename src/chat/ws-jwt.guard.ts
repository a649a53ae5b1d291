import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { TokenService } from '../auth/token.service.js';
import { ChatError } from './chat.error.js';
import { ConnectionRegistry } from './connection.registry.js';
import { CloseCode } from './protocol.js';

/**
 * Lets a frame through only while its connection's token is valid. Guards
 * do not run on the connection itself, so the upgrade verifies the token
 * once and the connection carries the session. The expiry timer closes the
 * socket at the deadline; this guard covers the frames that race it.
 */
@Injectable()
export class WsJwtGuard implements CanActivate {
  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly tokens: TokenService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const connection = this.connections.get(context.switchToWs().getClient<WebSocket>());
    if (!connection) throw new ChatError('token_invalid', 'The connection is not authenticated');
    const deadline = this.tokens.deadline(connection.session);
    if (deadline !== null && deadline <= Date.now()) {
      connection.close(CloseCode.policy, 'token_expired');
      throw new ChatError('token_invalid', 'The token has expired');
    }
    return true;
  }
}
