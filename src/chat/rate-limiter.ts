export type RateVerdict = 'ok' | 'drop' | 'drop_and_tell' | 'abuse';

/** When a connection counts as abusive: `factor` times the rate, every second for `windowMs`. */
export interface AbuseRule {
  factor: number;
  windowMs: number;
}

/** The defaults of RATE_LIMIT_ABUSE_FACTOR and RATE_LIMIT_ABUSE_WINDOW_MS. */
const DEFAULT_ABUSE: AbuseRule = { factor: 5, windowMs: 10_000 };

/**
 * Per-connection token bucket (PROTOCOL §2 "Rate limit"): `perSecond`
 * sustained, `burst` at once. Frames over it are dropped and the client is
 * told at most once a second; a client that keeps sending at `abuse.factor`
 * times the rate for `abuse.windowMs` is abusive and gets closed.
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
    now = Date.now(),
    private readonly abuse: AbuseRule = DEFAULT_ABUSE,
  ) {
    this.tokens = burst;
    this.refilledAt = now;
    this.windowStart = now;
  }

  take(now = Date.now()): RateVerdict {
    if (this.isAbusive(now)) return 'abuse';
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
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
