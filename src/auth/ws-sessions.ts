import { Injectable } from '@nestjs/common';
import { Session } from './session.js';

/**
 * The verified session of each open socket. Guards do not run on the
 * connection itself, so the upgrade stores the session here once and
 * `WsJwtGuard` reads it on every frame; `refresh_token` replaces it.
 */
@Injectable()
export class WsSessions {
  private readonly bySocket = new WeakMap<object, Session>();

  set(socket: object, session: Session): void {
    this.bySocket.set(socket, session);
  }

  get(socket: object): Session | undefined {
    return this.bySocket.get(socket);
  }
}
