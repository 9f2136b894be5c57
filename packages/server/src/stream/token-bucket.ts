// A token bucket (the shape of Prosody's mod_limits throttle): `rate` units a second, at most `burst` saved up. Taking
// more than is there puts the bucket in debt and says how long the taker should wait, so a reader that honours the
// wait (pausing its socket, as the stream machine does while a handler awaits) slows to the rate instead of dropping.
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.updated = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.updated) * this.rate) / 1000);
    this.updated = t;
  }

  /** Takes `amount`; returns the milliseconds to wait before going on (0: within the budget). */
  take(amount: number): number {
    this.refill();
    this.tokens -= amount;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Full and so forgettable (nothing owed, nothing to remember). */
  get isFull(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }
}
