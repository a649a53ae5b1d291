import { CanActivate, ExecutionContext, HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuthError, type Session } from '../auth/session.js';
import { TokenService } from '../auth/token.service.js';
import { SETTINGS, Settings } from '../config/settings.js';
import { clientOf } from '../limits/client-address.js';
import { RateCounter } from '../limits/rate-counter.js';
import type { LimitSubject } from '../redis/limit-keys.js';

const WINDOW_MS = 60_000;

/**
 * REST requests per minute, counted per verified user (a service token by
 * its `sub`) and, for a request without a valid token, per client address
 * (`TRUST_PROXY` decides whether `X-Forwarded-For` names it). Counted across
 * instances when Redis is configured. Over the limit: 429 with `Retry-After`.
 *
 * It runs before `HttpJwtGuard` and hands it the session it verified, so a
 * token is verified once per request.
 */
@Injectable()
export class RestRateGuard implements CanActivate {
  constructor(
    private readonly tokens: TokenService,
    private readonly counter: RateCounter,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { session?: Session }>();
    let subject: LimitSubject;
    let limit: number;
    try {
      request.session = this.tokens.verifyBearer(request.headers.authorization);
      subject = { user: request.session.userId };
      limit = this.settings.http.rateLimitPerMinute;
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      subject = { address: clientOf(request.ip) };
      limit = this.settings.http.anonymousRateLimitPerMinute;
    }
    const verdict = await this.counter.hit('rest', subject, limit, WINDOW_MS);
    if (verdict.allowed) return true;
    throw tooManyRequests(http.getResponse<Response>(), verdict.retryAfterMs, 'Too many requests; slow down');
  }
}

/** A 429 in the REST error shape (PROTOCOL §5), with `Retry-After` in whole seconds. */
export function tooManyRequests(response: Response, retryAfterMs: number, message: string): HttpException {
  response.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  const status = HttpStatus.TOO_MANY_REQUESTS;
  return new HttpException({ statusCode: status, error: 'Too Many Requests', message }, status);
}
