export type RateVerdict = 'ok' | 'drop' | 'drop_and_tell' | 'abuse';

/** When a connection counts as abusive: `factor` times the rate, every second for `windowMs`. */
export interface AbuseRule {
  factor: number;
  windowMs: number;
}

/** The defaults of RATE_LIMIT_ABUSE_FACTOR and RATE_LIMIT_ABUSE_WINDOW_MS. */
const DEFAULT_ABUSE: AbuseRule = { factor: 5, windowMs: 10_000 };

/**
 * A token bucket in bytes, which the connections of one user share
 * (RATE_LIMIT_BYTES_PER_SECOND): what a frame costs to parse grows with its
 * size, so frames alone do not bound it, and a budget per connection would
 * grow with the connections a user opens. Times are monotonic milliseconds.
 */
export class ByteBudget {
  private tokens: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private refilledAt = performance.now(),
  ) {
    this.tokens = burst;
  }

  /** Takes `size` bytes if they are there; takes nothing otherwise. */
  take(now: number, size: number): boolean {
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
      this.refilledAt = now;
    }
    if (this.tokens < size) return false;
    this.tokens -= size;
    return true;
  }
}

/**
 * Per-connection token bucket (PROTOCOL §2 "Rate limit"): `perSecond`
 * frames sustained, `burst` at once, and, given one, as many bytes as the
 * user's `bytes` budget has. Frames over it are dropped and the client is
 * told at most once a second; a client that keeps sending at `abuse.factor`
 * times the frame rate for `abuse.windowMs` is abusive and gets closed.
 * Times are monotonic milliseconds (`performance.now()`): a wall clock set
 * back would stop every bucket from refilling for as long.
 */
export class RateLimiter {
  private tokens: number;
  private refilledAt: number;
  private toldAt = -Infinity;
  private windowStart: number;
  private windowCount = 0;
  private abusiveSince: number | null = null;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now = performance.now(),
    private readonly abuse: AbuseRule = DEFAULT_ABUSE,
    private readonly bytes?: ByteBudget,
  ) {
    this.tokens = burst;
    this.refilledAt = now;
    this.windowStart = now;
  }

  /** One frame of `size` bytes. */
  take(now = performance.now(), size = 0): RateVerdict {
    if (this.isAbusive(now)) return 'abuse';
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens >= 1 && (!this.bytes || this.bytes.take(now, size))) {
      this.tokens -= 1;
      return 'ok';
    }
    return this.drop(now);
  }

  /** A frame dropped for another reason (too many waiting): told at most once a second, like the rate. */
  drop(now = performance.now()): 'drop' | 'drop_and_tell' {
    if (now - this.toldAt < 1000) return 'drop';
    this.toldAt = now;
    return 'drop_and_tell';
  }

  /** Counts frames in one-second windows; abusive once every window for `abuse.windowMs` ran hot. */
  private isAbusive(now: number): boolean {
    if (now - this.windowStart >= 1000) {
      const hot = this.windowCount >= this.perSecond * this.abuse.factor && now - this.windowStart < 2000;
      if (!hot) this.abusiveSince = null;
      else this.abusiveSince ??= this.windowStart;
      this.windowStart = now;
      this.windowCount = 0;
    }
    this.windowCount += 1;
    return this.abusiveSince !== null && now - this.abusiveSince >= this.abuse.windowMs;
  }
}
