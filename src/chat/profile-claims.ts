import { CallHandler, ExecutionContext, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { from, mergeMap, type Observable } from 'rxjs';
import type { Session } from '../auth/session.js';
import type { ProfileUpdate } from '../users/user-directory.store.js';
import { UsersService } from '../users/users.service.js';

/** What a session's token says of its user, as a directory update; undefined when it says nothing (or is a service's). */
export function profileUpdate(session: Session): ProfileUpdate | undefined {
  if (session.isService || !session.profile) return undefined;
  return { user_id: session.userId, ...session.profile };
}

/**
 * REST: remembers the profile claims of the caller's token in the user
 * directory before the route runs (a write only when they changed since this
 * process last wrote them); a failure to write does not fail the request.
 */
@Injectable()
export class RememberProfileInterceptor implements NestInterceptor {
  private readonly logger = new Logger(RememberProfileInterceptor.name);

  constructor(private readonly users: UsersService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const session = context.switchToHttp().getRequest<Request & { session?: Session }>().session;
    const update = session && profileUpdate(session);
    if (!update) return next.handle();
    const remembered = this.users.remember(update).catch((error: unknown) => this.logger.warn(`Could not remember a profile: ${String(error)}`));
    return from(remembered).pipe(mergeMap(() => next.handle()));
  }
}
