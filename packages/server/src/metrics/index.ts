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

const KINDS = new Set(['message', 'presence', 'iq']);
const kind = (name: string) => (KINDS.has(name) ? name : 'other');

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
  const stanzasIn = new Counter({ name: 'parley_stanzas_in_total', help: 'Stanzas received from clients, by kind', labelNames: ['kind'] as const, registers: [registry] });
  const stanzasOut = new Counter({ name: 'parley_stanzas_out_total', help: 'Stanzas sent to clients, by kind', labelNames: ['kind'] as const, registers: [registry] });
  const authFailures = new Counter({ name: 'parley_auth_failures_total', help: 'Failed SASL authentications, by mechanism', labelNames: ['mechanism'] as const, registers: [registry] });
  const routing = new Histogram({
    name: 'parley_routing_duration_seconds',
    help: 'Time to route a stanza from a client (filters, features, delivery), by kind',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const storage = new Histogram({
    name: 'parley_storage_duration_seconds',
    help: 'Storage call latency, by operation',
    labelNames: ['operation'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  for (const k of KINDS) {
    stanzasIn.inc({ kind: k }, 0);
    stanzasOut.inc({ kind: k }, 0);
  }

  // Counted at the session edges; a client stanza's routing time is measured around Router.route (below).
  const disposables: Disposable[] = [
    server.hooks.on('session/received', ({ stanza }) => {
      stanzasIn.inc({ kind: kind(stanza.name) });
    }),
    server.hooks.on('session/sending', ({ stanza }) => {
      stanzasOut.inc({ kind: kind(stanza.name) });
    }),
    server.hooks.on('auth/failed', ({ mechanism }) => {
      authFailures.inc({ mechanism: mechanism ?? 'none' });
    }),
  ];
  const router = server.router;
  const route = router.route;
  router.route = async function timedRoute(this: typeof router, stanza, origin) {
    if (origin.kind !== 'c2s') return route.call(this, stanza, origin);
    const end = routing.startTimer({ kind: kind(stanza.name) });
    try {
      return await route.call(this, stanza, origin);
    } finally {
      end();
    }
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
