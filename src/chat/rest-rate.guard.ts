import { applyDecorators, CanActivate, ExecutionContext, HttpException, HttpStatus, Inject, Injectable, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
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
    return countWithin(this.counter, context, 'rest', subject, limit, 'Too many requests; slow down');
  }
}

/** What one user may do so many times a minute: the rate counter's bucket, the setting that bounds it, and the 429's message. */
export interface PerMinuteQuota {
  bucket: string;
  limit: (settings: Settings) => number;
  message: string;
}

const PerMinute = Reflector.createDecorator<PerMinuteQuota>();

/**
 * A route a user may call at most `quota.limit` times a minute, across
 * instances on Redis; refused calls count too. Service tokens are exempt.
 * Runs after `HttpJwtGuard`, whose session it counts.
 */
export const LimitPerMinute = (quota: PerMinuteQuota) => applyDecorators(PerMinute(quota), UseGuards(PerMinuteGuard));

@Injectable()
export class PerMinuteGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly counter: RateCounter,
    @Inject(SETTINGS) private readonly settings: Settings,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const quota = this.reflector.getAllAndOverride(PerMinute, [context.getHandler(), context.getClass()]);
    const session = context.switchToHttp().getRequest<Request & { session?: Session }>().session;
    if (!quota || !session || session.isService) return true;
    return countWithin(this.counter, context, quota.bucket, { user: session.userId }, quota.limit(this.settings), quota.message);
  }
}

/** Counts a request of `subject` in the bucket: true within `limit` a minute, else the 429 (with `message`) is thrown. */
async function countWithin(
  counter: RateCounter,
  context: ExecutionContext,
  bucket: string,
  subject: LimitSubject,
  limit: number,
  message: string,
): Promise<true> {
  const verdict = await counter.hit(bucket, subject, limit, WINDOW_MS);
  if (verdict.allowed) return true;
  throw tooManyRequests(context.switchToHttp().getResponse<Response>(), verdict.retryAfterMs, message);
}

/** A 429 in the REST error shape (PROTOCOL §5), with `Retry-After` in whole seconds. */
export function tooManyRequests(response: Response, retryAfterMs: number, message: string): HttpException {
  response.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  const status = HttpStatus.TOO_MANY_REQUESTS;
  return new HttpException({ statusCode: status, error: 'Too Many Requests', message }, status);
}
