import { CanActivate, ExecutionContext, Injectable, UnauthorizedException, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import { AuthError, Session } from './session.js';
import { TokenService } from './token.service.js';

type AuthenticatedRequest = Request & { session?: Session };

/** REST: a valid Bearer token or 401 (expired included, PROTOCOL §5). A session a guard before it verified is kept. */
@Injectable()
export class HttpJwtGuard implements CanActivate {
  constructor(private readonly tokens: TokenService) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (request.session) return true;
    try {
      request.session = this.tokens.verifyBearer(request.headers.authorization);
      return true;
    } catch (error) {
      if (error instanceof AuthError) throw new UnauthorizedException(error.message);
      throw error;
    }
  }
}

/** The caller's session, set by `HttpJwtGuard`. */
export const CurrentSession = createParamDecorator((_: unknown, context: ExecutionContext): Session => {
  const session = context.switchToHttp().getRequest<AuthenticatedRequest>().session;
  if (!session) throw new UnauthorizedException();
  return session;
});
