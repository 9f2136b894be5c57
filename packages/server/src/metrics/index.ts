// Prometheus metrics (prom-client): what an operator graphs and alerts on. This module only collects and renders;
// the HTTP listener mounts `render()` at /metrics (loopback by default, a bearer token otherwise). Each server has
// its own registry, so several servers in one process (tests, workers) do not mix their numbers.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { timingSafeEqual } from 'node:crypto';
import type { Disposable } from '../core/hooks';
import type { HttpRoutes } from '../core/http-routes';
import type { ParleyServer } from '../core/server';
import { countSessions } from '../core/sessions';

export interface Metrics {
  /** The text exposition format (version 0.0.4), for a scrape. */
  render(): Promise<string>;
  /** The Content-Type of render()'s output. */
  readonly contentType: string;
  /** Times one storage call (for backends and modules that want their latency graphed). */
  timeStorage<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  dispose(): void;
}

/** Per-stanza numbers are kept in plain arrays indexed by kind and handed to prom-client at scrape time. */
const KIND_NAMES = ['message', 'presence', 'iq', 'other'] as const;
const kindIndex = (name: string): number => (name === 'message' ? 0 : name === 'presence' ? 1 : name === 'iq' ? 2 : 3);

/**
 * A histogram by stanza kind with prom-client's exposition (a metric object the Registry renders like its own),
 * observed with an array increment: prom-client's observe() validates and hashes the label object for every call,
 * and startTimer() allocates two closures and a label object, several µs per routed stanza (bench/FINDINGS.md).
 */
class KindHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** per kind: non-cumulative counts per bucket, the last one +Inf */
  private readonly counts: Float64Array[];
  private readonly sums = new Float64Array(KIND_NAMES.length);

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = KIND_NAMES.map(() => new Float64Array(bounds.length + 1));
  }

  observe(kind: number, seconds: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    this.counts[kind]![i]!++;
    this.sums[kind] += seconds;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    KIND_NAMES.forEach((kind, k) => {
      const counts = this.counts[k]!;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += counts[i]!;
        values.push({ labels: { le, kind }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      cumulative += counts[this.bounds.length]!;
      values.push({ labels: { le: '+Inf', kind }, value: cumulative, metricName: `${this.name}_bucket` });
      values.push({ labels: { kind }, value: this.sums[k]!, metricName: `${this.name}_sum` });
      values.push({ labels: { kind }, value: cumulative, metricName: `${this.name}_count` });
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const c of this.counts) c.fill(0);
    this.sums.fill(0);
  }
}

/** Adds per-kind counts kept in `pending` to a prom-client counter when it is collected (at scrape time). */
function kindCounter(registry: Registry, name: string, help: string): Float64Array {
  const pending = new Float64Array(KIND_NAMES.length);
  new Counter({
    name,
    help,
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      KIND_NAMES.forEach((kind, k) => {
        this.inc({ kind }, pending[k]!);
        pending[k] = 0;
      });
    },
  });
  return pending;
}

export function createMetrics(server: ParleyServer): Metrics {
  const registry = new Registry();
  // Process metrics: CPU, resident memory, heap, event-loop lag, GC pauses (nodejs_gc_duration_seconds).
  collectDefaultMetrics({ register: registry, prefix: 'parley_', eventLoopMonitoringPrecision: 20 });

  new Gauge({
    name: 'parley_sessions',
    help: 'Bound client sessions by transport',
    labelNames: ['transport'] as const,
    registers: [registry],
    collect() {
      // c2s_tls, c2s_plain (TCP), websocket_tls, websocket_plain (RFC 7395), bosh_tls, bosh_plain (XEP-0206),
      // other_node (cluster mirrors).
      for (const [transport, count] of Object.entries(countSessions(server.sessions.all()))) this.set({ transport }, count);
    },
  });
  new Gauge({
    name: 'parley_s2s_connections',
    help: 'Server-to-server connections (federation)',
    registers: [registry],
    collect() {
      this.set(server.s2s?.connectionCount ?? 0);
    },
  });
  const stanzasIn = kindCounter(registry, 'parley_stanzas_in_total', 'Stanzas received from clients, by kind');
  const stanzasOut = kindCounter(registry, 'parley_stanzas_out_total', 'Stanzas sent to clients, by kind');
  const authFailures = new Counter({ name: 'parley_auth_failures_total', help: 'Failed SASL authentications, by mechanism', labelNames: ['mechanism'] as const, registers: [registry] });
  const routing = new KindHistogram(
    'parley_routing_duration_seconds',
    'Time to route a stanza from a client (filters, features, delivery), by kind',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );
  registry.registerMetric(routing as unknown as Parameters<Registry['registerMetric']>[0]);
  const storage = new Histogram({
    name: 'parley_storage_duration_seconds',
    help: 'Storage call latency, by operation',
    labelNames: ['operation'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });

  // Counted at the session edges; a client stanza's routing time is measured around Router.route (below).
  const disposables: Disposable[] = [
    server.hooks.on('session/received', ({ stanza }) => {
      stanzasIn[kindIndex(stanza.name)]++;
    }),
    server.hooks.on('session/sending', ({ stanza }) => {
      stanzasOut[kindIndex(stanza.name)]++;
    }),
    server.hooks.on('auth/failed', ({ mechanism }) => {
      authFailures.inc({ mechanism: mechanism ?? 'none' });
    }),
  ];
  const router = server.router;
  const route = router.route;
  // Not an async wrapper: the caller awaits the router's own promise, the timing rides on one .then().
  router.route = function timedRoute(this: typeof router, stanza, origin) {
    if (origin.kind !== 'c2s') return route.call(this, stanza, origin);
    const k = kindIndex(stanza.name);
    const start = performance.now();
    const routed = route.call(this, stanza, origin);
    // Inline arrows: one bound to a name gets tsx's keepNames __name() (a defineProperty) on every call.
    routed.then(
      () => routing.observe(k, (performance.now() - start) / 1000),
      () => routing.observe(k, (performance.now() - start) / 1000),
    );
    return routed;
  };

  return {
    render: () => registry.metrics(),
    contentType: registry.contentType,
    async timeStorage(operation, fn) {
      const end = storage.startTimer({ operation });
      try {
        return await fn();
      } finally {
        end();
      }
    },
    dispose() {
      for (const d of disposables) d.dispose();
      router.route = route;
      registry.clear();
    },
  };
}

/** Whether a scrape may read the metrics: from loopback always, from elsewhere with the configured bearer token. */
export function isScrapeAllowed(remoteAddress: string, authorization: string | undefined, token: string | undefined): boolean {
  if (isLoopback(remoteAddress)) return true;
  if (token === undefined || authorization === undefined) return false;
  const given = Buffer.from(authorization);
  const expected = Buffer.from(`Bearer ${token}`);
  // Constant time, so the token cannot be guessed a byte at a time from response times.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.');
}

/** GET /metrics on the HTTP listeners (Prometheus text format); the registration goes with the returned disposable. */
export function mountMetrics(routes: HttpRoutes, metrics: Metrics, token: string | undefined): Disposable {
  return routes.route('GET', '/metrics', async (req, res) => {
    if (!isScrapeAllowed(req.socket.remoteAddress ?? '', req.headers.authorization, token)) {
      res.writeHead(token === undefined ? 403 : 401, { 'Content-Type': 'text/plain; charset=utf-8', ...(token === undefined ? {} : { 'WWW-Authenticate': 'Bearer' }) });
      res.end(token === undefined ? 'metrics are served to loopback only (set metrics.token to allow others)\n' : 'a bearer token is required\n');
      return;
    }
    const body = await metrics.render();
    res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
    res.end(body);
  });
}
