import { CanActivate, ExecutionContext, HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { SETTINGS, Settings } from '../config/settings.js';
import { RateLimiter } from './rate-limiter.js';

/**
 * Callers whose buckets are kept (the oldest forgotten first): a bound on
 * memory, not a tuning knob, since a forgotten caller starts with a full bucket.
 */
const MAX_TRACKED = 100_000;

/**
 * REST requests per caller (the bearer token when there is one, else the
 * address), a token bucket of `REST_RATE_LIMIT_PER_MINUTE` per minute on
 * this instance; over it, 429.
 */
@Injectable()
export class RestRateGuard implements CanActivate {
  private readonly buckets = new Map<string, RateLimiter>();

  constructor(@Inject(SETTINGS) private readonly settings: Settings) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const caller = request.headers.authorization ?? request.ip ?? 'unknown';
    let bucket = this.buckets.get(caller);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED) this.buckets.delete(this.buckets.keys().next().value as string);
      const perMinute = this.settings.http.rateLimitPerMinute;
      this.buckets.set(caller, (bucket = new RateLimiter(perMinute / 60, perMinute)));
    }
    if (bucket.take() === 'ok') return true;
    throw new HttpException('Too many requests; slow down', HttpStatus.TOO_MANY_REQUESTS);
  }
}
