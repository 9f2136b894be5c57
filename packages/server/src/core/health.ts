// GET /health on the HTTP listeners, for load balancers and orchestrators: 200 when this node can serve, that is
// when its storage (a round trip to the database) and, in a cluster, the bus to the other nodes (a Redis PING)
// answer in time; 503 otherwise. The JSON body says which part failed, without error details (hosts, URLs), since
// the endpoint answers anyone.
import type { Disposable } from './hooks';
import type { HttpRoutes } from './http-routes';
import type { ParleyServer } from './server';

/** How long each check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 2000;

export interface HealthReport {
  healthy: boolean;
  node: string;
  storage: 'ok' | 'unreachable';
  /** 'none' for a node without a cluster. */
  bus: 'ok' | 'unreachable' | 'none';
}

function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  return Promise.race([promise.then(() => true, () => false), timeout]).finally(() => clearTimeout(timer));
}

export async function checkHealth(server: ParleyServer): Promise<HealthReport> {
  const [storage, bus] = await Promise.all([within(server.storage.ping(), CHECK_TIMEOUT_MS), within(server.cluster.pingBus(), CHECK_TIMEOUT_MS)]);
  return {
    healthy: storage && bus,
    node: server.cluster.nodeId,
    storage: storage ? 'ok' : 'unreachable',
    bus: !server.cluster.enabled ? 'none' : bus ? 'ok' : 'unreachable',
  };
}

export function mountHealth(routes: HttpRoutes, server: ParleyServer): Disposable {
  return routes.route('GET', '/health', async (_req, res) => {
    const report = await checkHealth(server);
    res.writeHead(report.healthy ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(report));
  });
}
