// A small log-bucket latency histogram (HDR-like, ~2% relative precision).
// Values are microseconds. Bucket i covers [2^(i/SUB), 2^((i+1)/SUB)); bucket 0 also takes
// everything below 1 µs. Histograms from several worker processes merge by adding counts,
// so they travel over IPC as sparse [index, count] pairs.

const SUB = 32; // sub-buckets per power of two → 2^(1/32) ≈ 2.2 % bucket width
const MAX_INDEX = SUB * 40; // 2^40 µs ≈ 12.7 days: anything larger is clamped

export interface HistogramJson {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface HistogramSummary {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

export class Histogram {
  private counts = new Map<number, number>();
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(us: number): void {
    if (!(us >= 0)) us = 0;
    const idx = us < 1 ? 0 : Math.min(MAX_INDEX, Math.floor(Math.log2(us) * SUB));
    this.counts.set(idx, (this.counts.get(idx) ?? 0) + 1);
    this.count++;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  merge(other: Histogram | HistogramJson): void {
    const pairs = other instanceof Histogram ? [...other.counts] : other.buckets;
    for (const [idx, n] of pairs) this.counts.set(idx, (this.counts.get(idx) ?? 0) + n);
    this.count += other.count;
    this.sum += other.sum;
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min);
      this.max = Math.max(this.max, other.max);
    }
  }

  /** Value (µs) at quantile q in [0, 1]: the upper edge of the bucket holding it, capped at max. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    const idxs = [...this.counts.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const idx of idxs) {
      seen += this.counts.get(idx) ?? 0;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, 2 ** ((idx + 1) / SUB)));
    }
    return this.max;
  }

  toJSON(): HistogramJson {
    return {
      buckets: [...this.counts].sort((a, b) => a[0] - b[0]),
      count: this.count,
      sum: this.sum,
      min: this.count ? this.min : 0,
      max: this.max,
    };
  }

  static from(json: HistogramJson): Histogram {
    const h = new Histogram();
    h.merge(json);
    return h;
  }

  summary(): HistogramSummary {
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      count: this.count,
      mean_ms: this.count ? ms(this.sum / this.count) : NaN,
      p50_ms: ms(this.quantile(0.5)),
      p90_ms: ms(this.quantile(0.9)),
      p99_ms: ms(this.quantile(0.99)),
      p999_ms: ms(this.quantile(0.999)),
      max_ms: ms(this.max),
    };
  }
}

/** Microseconds on CLOCK_MONOTONIC: the same clock in every process of this machine. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
