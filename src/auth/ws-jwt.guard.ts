import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { ChatError } from '../chat/chat.error.js';
import { CloseCode } from '../chat/protocol.js';
import { TokenService } from './token.service.js';
import { WsSessions } from './ws-sessions.js';

/**
 * Lets a frame through only while its socket's token is valid. The expiry
 * timer closes the socket at the deadline; this guard covers the frames that
 * race it.
 */
@Injectable()
export class WsJwtGuard implements CanActivate {
  constructor(
    private readonly sessions: WsSessions,
    private readonly tokens: TokenService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const socket = context.switchToWs().getClient<WebSocket>();
    const session = this.sessions.get(socket);
    if (!session) throw new ChatError('token_invalid', 'The connection is not authenticated');
    const deadline = this.tokens.deadline(session);
    if (deadline !== null && deadline <= Date.now()) {
      socket.close(CloseCode.policy, 'token_expired');
      throw new ChatError('token_invalid', 'The token has expired');
    }
    return true;
  }
}
