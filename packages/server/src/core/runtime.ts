// Process health for `parley status` and the metrics: event-loop delay (a blocked loop delays every stanza of
// every session, so it is the first number to look at) and memory.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface RuntimeSnapshot {
  uptimeSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Event-loop delay since start (or the last reset), milliseconds. */
  loopDelayMs: { p50: number; p99: number; max: number };
}

export class RuntimeMonitor {
  private histogram: IntervalHistogram | undefined;

  constructor(private readonly startedAt: number) {}

  start(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = undefined;
  }

  snapshot(): RuntimeSnapshot {
    const mem = process.memoryUsage();
    const h = this.histogram;
    // The histogram records nanoseconds; an empty one reports NaN/huge values, shown as 0.
    const ms = (ns: number) => (h && h.count > 0 && Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0);
    return {
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      loopDelayMs: { p50: ms(h?.percentile(50) ?? 0), p99: ms(h?.percentile(99) ?? 0), max: ms(h?.max ?? 0) },
    };
  }
}
