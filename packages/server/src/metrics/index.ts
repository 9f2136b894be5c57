// Prometheus metrics (prom-client): what an operator graphs and alerts on. This module only collects and renders;
// the HTTP listener mounts `render()` at /metrics (loopback by default, a bearer token otherwise). Each server has
// its own registry, so several servers in one process (tests, workers) do not mix their numbers.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Disposable } from '../core/hooks';
import type { ParleyServer } from '../core/server';

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
      let tls = 0;
      let plain = 0;
      let remote = 0;
      for (const s of server.sessions.all()) {
        if (s.node !== undefined) remote++;
        else if (s.secure) tls++;
        else plain++;
      }
      this.set({ transport: 'c2s_tls' }, tls);
      this.set({ transport: 'c2s_plain' }, plain);
      this.set({ transport: 'other_node' }, remote);
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
