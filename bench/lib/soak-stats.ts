// The soak scenario's arithmetic, kept apart from the I/O so it can be unit-tested: a least-squares
// line through the RSS samples taken after warm-up, the PASS/FAIL verdict with its stated thresholds,
// delivery accounting by message id (per-sender bitsets), and the default rate read from RESULTS.md.

export interface RssSample {
  /** seconds since the soak's traffic started */
  t_s: number;
  rss_kib: number;
}

export interface LinearFit {
  /** MiB per minute */
  slope: number;
  /** MiB at t = 0 */
  intercept: number;
  /** coefficient of determination (0…1); 0 when RSS did not vary at all */
  r2: number;
  n: number;
}

/** Ordinary least squares of RSS (MiB) against time (minutes). Needs two samples at distinct times. */
export function fitRss(samples: readonly RssSample[]): LinearFit | undefined {
  const n = samples.length;
  if (n < 2) return undefined;
  const xs = samples.map((s) => s.t_s / 60);
  const ys = samples.map((s) => s.rss_kib / 1024);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 0 : (sxy * sxy) / (sxx * syy), n };
}

export interface SoakThresholds {
  /** highest RSS slope after warm-up that still counts as flat (MiB/min) */
  maxSlopeMiBPerMin: number;
  /** fewest RSS samples after warm-up for a fit worth judging */
  minSamples: number;
}

export const DEFAULT_THRESHOLDS: SoakThresholds = { maxSlopeMiBPerMin: 2, minSamples: 10 };

export interface Delivery {
  sent: number;
  /** distinct message ids received */
  received: number;
  lost: number;
  /** the same id received more than once (by one session or by several) */
  duplicates: number;
  /** <message type='error'/> bounced back to a sender */
  errors: number;
}

export interface SoakVerdict {
  pass: boolean;
  /** why it failed; empty when it passed */
  reasons: string[];
  /** the thresholds, in words, for the report */
  criteria: string[];
}

export function soakVerdict(
  fit: LinearFit | undefined,
  delivery: Delivery,
  serverAlive: boolean,
  thresholds: SoakThresholds = DEFAULT_THRESHOLDS,
): SoakVerdict {
  const criteria = [
    `RSS slope after warm-up ≤ ${thresholds.maxSlopeMiBPerMin} MiB/min (least squares over ≥ ${thresholds.minSamples} samples)`,
    'every message sent received exactly once, by id (lost = 0, duplicates = 0)',
    'no error bounced to a sender',
    'server process alive at the end',
  ];
  const reasons: string[] = [];
  if (!fit || fit.n < thresholds.minSamples) {
    reasons.push(`only ${fit?.n ?? 0} RSS samples after warm-up (need ${thresholds.minSamples}): run longer or sample more often`);
  } else if (fit.slope > thresholds.maxSlopeMiBPerMin) {
    reasons.push(`RSS grows ${fit.slope.toFixed(2)} MiB/min after warm-up (limit ${thresholds.maxSlopeMiBPerMin})`);
  }
  if (delivery.sent === 0) reasons.push('nothing was sent');
  if (delivery.lost > 0) reasons.push(`${delivery.lost} of ${delivery.sent} messages lost`);
  if (delivery.duplicates > 0) reasons.push(`${delivery.duplicates} messages delivered more than once`);
  if (delivery.errors > 0) reasons.push(`${delivery.errors} error bounces`);
  if (!serverAlive) reasons.push('server process died');
  return { pass: reasons.length === 0, reasons, criteria };
}

/**
 * Which of a sender's sequence numbers arrived, as a growable bitset. Receivers keep one per sending
 * worker; the coordinator ORs them (counting overlaps as duplicates) and counts the bits below `sent`.
 */
export class IdSet {
  private bits = new Uint8Array(1024);
  duplicates = 0;

  /** The set a receiver serialised with toBase64(), with the duplicates it counted itself. */
  static fromBase64(s: string, duplicates = 0): IdSet {
    const set = new IdSet();
    const bytes = Buffer.from(s, 'base64');
    if (bytes.length > 0) set.bits = new Uint8Array(bytes);
    set.duplicates = duplicates;
    return set;
  }

  add(seq: number): void {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte]! & mask) this.duplicates++;
    else this.bits[byte]! |= mask;
  }

  has(seq: number): boolean {
    return ((this.bits[seq >>> 3] ?? 0) & (1 << (seq & 7))) !== 0;
  }

  /** Adds every id of `other` and its duplicates; ids already present count as duplicates too (delivered to two sessions). */
  merge(other: IdSet): void {
    if (other.bits.length > this.bits.length) {
      const grown = new Uint8Array(other.bits.length);
      grown.set(this.bits);
      this.bits = grown;
    }
    for (let i = 0; i < other.bits.length; i++) {
      const o = other.bits[i]!;
      if (o === 0) continue;
      this.duplicates += popcount(this.bits[i]! & o);
      this.bits[i]! |= o;
    }
    this.duplicates += other.duplicates;
  }

  /** How many of 0 … n-1 are present. */
  countBelow(n: number): number {
    let c = 0;
    const full = n >>> 3;
    for (let i = 0; i < Math.min(full, this.bits.length); i++) c += popcount(this.bits[i]!);
    for (let seq = full * 8; seq < n; seq++) if (this.has(seq)) c++;
    return c;
  }

  /** The first `limit` of 0 … n-1 that are missing (for the report). */
  missingBelow(n: number, limit: number): number[] {
    const out: number[] = [];
    for (let seq = 0; seq < n && out.length < limit; seq++) if (!this.has(seq)) out.push(seq);
    return out;
  }

  toBase64(): string {
    let end = this.bits.length;
    while (end > 0 && this.bits[end - 1] === 0) end--;
    return Buffer.from(this.bits.subarray(0, end)).toString('base64');
  }
}

function popcount(b: number): number {
  let c = 0;
  for (let v = b; v; v &= v - 1) c++;
  return c;
}

/**
 * Parley's S3 capacity (msg/s) from bench/RESULTS.md's side-by-side table: the row
 * `| S3 | max msg/s with p99<100ms, no loss | msg/s | ↑ | <Parley> | …`. Undefined when absent.
 */
export function s3CapacityFromResults(markdown: string): number | undefined {
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // ['', 'S3', label, unit, better, Parley, …]
    if (cells[1] === 'S3' && cells[2]?.startsWith('max msg/s')) {
      const v = Number((cells[5] ?? '').replace(/,/g, ''));
      return Number.isFinite(v) && v > 0 ? v : undefined;
    }
  }
  return undefined;
}
