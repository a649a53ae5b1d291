import { Inject, Injectable, Logger } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { LimitKeys, type LimitSubject } from '../redis/limit-keys.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { HIT, UNHIT } from './limit.scripts.js';

export interface RateVerdict {
  allowed: boolean;
  /** When the current window ends: how long a refused caller should wait. */
  retryAfterMs: number;
  /** Where the hit was counted, and when (by this process's clock) its window ends: what `release` needs. */
  countedIn: 'redis' | 'local';
  windowEndsAt: number;
}

/** A hit in Redis is given back only while its window has at least this long to run: never to the next window. */
const RELEASE_MARGIN_MS = 1_000;

/**
 * Subjects whose windows are kept in this process (the oldest forgotten
 * first): a bound on memory rather than a setting. Keys are short (a
 * verified `sub` of at most 256 characters, or an address), so the table
 * stays within a few tens of MB at worst.
 */
const MAX_TRACKED = 50_000;

/** Fixed-window counters in this process. */
export class MemoryRateCounter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  hit(key: string, limit: number, windowMs: number, now = Date.now()): RateVerdict {
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      this.windows.delete(key);
      if (this.windows.size >= MAX_TRACKED) this.windows.delete(this.windows.keys().next().value as string);
      this.windows.set(key, (window = { count: 0, endsAt: now + windowMs }));
    }
    window.count += 1;
    return { allowed: window.count <= limit, retryAfterMs: window.endsAt - now, countedIn: 'local', windowEndsAt: window.endsAt };
  }

  /** The verdict a hit would get if it were not counted. */
  peek(key: string, limit: number, now = Date.now()): Pick<RateVerdict, 'allowed' | 'retryAfterMs'> {
    const window = this.windows.get(key);
    if (!window || window.endsAt <= now) return { allowed: true, retryAfterMs: 0 };
    return { allowed: window.count < limit, retryAfterMs: window.endsAt - now };
  }

  /** Gives back one hit of the window that ends at `windowEndsAt`, if it is still the current one. */
  release(key: string, windowEndsAt: number): void {
    const window = this.windows.get(key);
    if (window && window.endsAt === windowEndsAt && window.count > 0) window.count -= 1;
  }

  get size(): number {
    return this.windows.size;
  }
}

/**
 * Counts requests per subject in fixed windows: across every instance in
 * Redis when `REDIS_URL` is set (one script: INCR and PEXPIRE), else in this
 * process. While Redis is away it counts in this process, so limits hold
 * per instance rather than not at all.
 */
@Injectable()
export class RateCounter {
  private readonly logger = new Logger(RateCounter.name);
  private readonly local = new MemoryRateCounter();
  private readonly keys: LimitKeys;

  constructor(
    private readonly redis: RedisService,
    @Inject(SETTINGS) settings: Settings,
  ) {
    this.keys = new LimitKeys(settings.redis.keyPrefix);
  }

  async hit(bucket: string, subject: LimitSubject, limit: number, windowMs: number): Promise<RateVerdict> {
    if (this.redis.enabled && this.redis.notReadyReason === undefined) {
      try {
        const [count, ttl] = (await this.redis.call(() =>
          this.redis.run(HIT, [this.keys.rate(bucket, subject)], [windowMs]),
        )) as [number, number];
        return { allowed: count <= limit, retryAfterMs: ttl, countedIn: 'redis', windowEndsAt: Date.now() + ttl };
      } catch (error) {
        this.logger.debug(`counting ${bucket} locally: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return this.local.hit(localKey(bucket, subject), limit, windowMs);
  }

  /**
   * Gives back a hit that turned out not to count (a hit taken first, so that
   * requests at once cannot all pass a check made before any is counted), where
   * it was counted and only to its own window; a window never goes below
   * zero. If Redis cannot be reached, the hit stays counted until its window ends.
   */
  async release(bucket: string, subject: LimitSubject, hit: RateVerdict): Promise<void> {
    if (hit.countedIn === 'local') return this.local.release(localKey(bucket, subject), hit.windowEndsAt);
    if (Date.now() >= hit.windowEndsAt - RELEASE_MARGIN_MS) return;
    try {
      await this.redis.call(() => this.redis.run(UNHIT, [this.keys.rate(bucket, subject)], []));
    } catch (error) {
      this.logger.debug(`${bucket}: a hit stays counted: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Whether one more hit would still be allowed, without counting it. */
  async peek(bucket: string, subject: LimitSubject, limit: number): Promise<Pick<RateVerdict, 'allowed' | 'retryAfterMs'>> {
    if (this.redis.enabled && this.redis.notReadyReason === undefined) {
      try {
        const key = this.keys.rate(bucket, subject);
        const [count, ttl] = await this.redis.call(() => Promise.all([this.redis.client.get(key), this.redis.client.pttl(key)]));
        return { allowed: Number(count ?? 0) < limit, retryAfterMs: Math.max(0, ttl) };
      } catch (error) {
        this.logger.debug(`peeking ${bucket} locally: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return this.local.peek(localKey(bucket, subject), limit);
  }
}

function localKey(bucket: string, subject: LimitSubject): string {
  return `${bucket}\n${'user' in subject ? `u:${subject.user}` : `a:${subject.address}`}`;
}
