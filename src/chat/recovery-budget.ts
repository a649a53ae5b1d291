/**
 * The messages one connection may still recover (PROTOCOL §2 "Recovery"):
 * a token bucket that holds at most `perMinute` messages and refills at
 * `perMinute` a minute, shared by all the connection's joins with `since`.
 */
export class RecoveryBudget {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perMinute: number,
    now = Date.now(),
  ) {
    this.tokens = perMinute;
    this.refilledAt = now;
  }

  /** Messages that may be recovered now. */
  available(now = Date.now()): number {
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.refilledAt) / 60_000) * this.perMinute);
    this.refilledAt = now;
    return Math.floor(this.tokens);
  }

  spend(messages: number): void {
    this.tokens = Math.max(0, this.tokens - messages);
  }
}
