export type RateVerdict = 'ok' | 'drop' | 'drop_and_tell' | 'abuse';

/** When a connection counts as abusive: `factor` times the rate, every second for `windowMs`. */
export interface AbuseRule {
  factor: number;
  windowMs: number;
}

/** A second budget, in bytes: what a frame costs to parse grows with its size. */
export interface ByteRate {
  perSecond: number;
  burst: number;
}

/** The defaults of RATE_LIMIT_ABUSE_FACTOR and RATE_LIMIT_ABUSE_WINDOW_MS. */
const DEFAULT_ABUSE: AbuseRule = { factor: 5, windowMs: 10_000 };

/**
 * Per-connection token bucket (PROTOCOL §2 "Rate limit"): `perSecond`
 * frames sustained, `burst` at once, and as many bytes as `bytes` allows
 * (none counted without it). Frames over it are dropped and the client is
 * told at most once a second; a client that keeps sending at `abuse.factor`
 * times the rate, in frames or in bytes, for `abuse.windowMs` is abusive and
 * gets closed.
 */
export class RateLimiter {
  private tokens: number;
  private byteTokens: number;
  private refilledAt: number;
  private toldAt = -Infinity;
  private windowStart: number;
  private windowCount = 0;
  private windowBytes = 0;
  private abusiveSince: number | null = null;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now = Date.now(),
    private readonly abuse: AbuseRule = DEFAULT_ABUSE,
    private readonly bytes?: ByteRate,
  ) {
    this.tokens = burst;
    this.byteTokens = bytes?.burst ?? 0;
    this.refilledAt = now;
    this.windowStart = now;
  }

  /** One frame of `size` bytes. */
  take(now = Date.now(), size = 0): RateVerdict {
    if (this.isAbusive(now, size)) return 'abuse';
    const elapsed = (now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perSecond);
    if (this.bytes) this.byteTokens = Math.min(this.bytes.burst, this.byteTokens + elapsed * this.bytes.perSecond);
    this.refilledAt = now;
    if (this.tokens >= 1 && (!this.bytes || this.byteTokens >= size)) {
      this.tokens -= 1;
      this.byteTokens -= size;
      return 'ok';
    }
    return this.drop(now);
  }

  /** A frame dropped for another reason (too many waiting): told at most once a second, like the rate. */
  drop(now = Date.now()): 'drop' | 'drop_and_tell' {
    if (now - this.toldAt < 1000) return 'drop';
    this.toldAt = now;
    return 'drop_and_tell';
  }

  /** Counts frames and bytes in one-second windows; abusive once every window for `abuse.windowMs` ran hot. */
  private isAbusive(now: number, size: number): boolean {
    if (now - this.windowStart >= 1000) {
      const { factor } = this.abuse;
      const over = this.windowCount >= this.perSecond * factor || (this.bytes !== undefined && this.windowBytes >= this.bytes.perSecond * factor);
      const hot = over && now - this.windowStart < 2000;
      if (!hot) this.abusiveSince = null;
      else this.abusiveSince ??= this.windowStart;
      this.windowStart = now;
      this.windowCount = 0;
      this.windowBytes = 0;
    }
    this.windowCount += 1;
    this.windowBytes += size;
    return this.abusiveSince !== null && now - this.abusiveSince >= this.abuse.windowMs;
  }
}
