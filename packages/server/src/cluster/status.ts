// `parley cluster status`: the cluster as one node sees it — every configured or live node with its sessions and
// the MUC rooms it serves (each live node answers for itself over the bus), and whether Redis and the database
// answer (from this node, and from each node for its own database connection). Declared as an AdminCommand, so
// the control socket, the CLI and XEP-0133 run this one definition.
import type { AdminCommand } from '../core/commands';
import type { ParleyServer } from '../core/server';
import { checkHealth } from '../core/health';

export const NODE_REPORT = 'cluster/node-report';

/** What one node says about itself. */
export interface NodeReport {
  sessions: number;
  rooms: number;
  storage: 'ok' | 'unreachable';
}

/** This node's sessions, the rooms it serves (the modules' 'muc.rooms' status lines) and its database. */
export async function nodeReport(server: ParleyServer): Promise<NodeReport> {
  const fields: { name: string; label: string; values: string[] }[] = [];
  const [health] = await Promise.all([checkHealth(server), server.hooks.fire('status/requested', { fields })]);
  const rooms = fields.filter((f) => f.name === 'muc.rooms').reduce((n, f) => n + (Number(f.values[0]) || 0), 0);
  return { sessions: server.sessions.localSize, rooms, storage: health.storage };
}

export function clusterStatusCommand(server: ParleyServer): AdminCommand {
  return {
    name: 'cluster-status',
    description: 'Nodes of the cluster with their sessions and rooms, and whether Redis and the database answer',
    fields: [],
    live: true,
    async run() {
      const { cluster } = server;
      const health = await checkHealth(server);
      const nodes = [...new Set([...server.config.cluster.nodes, ...cluster.liveNodes()])].sort();
      const lines = await Promise.all(
        nodes.map(async (node) => {
          if (!cluster.isLive(node)) return { name: `node.${node}`, label: `node ${node}`, values: ['down (not heard from)'] };
          let report: NodeReport;
          try {
            report = node === cluster.nodeId ? await nodeReport(server) : ((await cluster.ask(node, NODE_REPORT, null, 3000)) as NodeReport);
          } catch {
            return { name: `node.${node}`, label: `node ${node}`, values: ['live, not answering'] };
          }
          const self = node === cluster.nodeId ? ' (this node)' : '';
          return {
            name: `node.${node}`,
            label: `node ${node}`,
            values: [`live${self}, ${report.sessions} sessions, ${report.rooms} rooms, database ${report.storage}`],
          };
        }),
      );
      return {
        note: `${nodes.filter((n) => cluster.isLive(n)).length} of ${nodes.length} nodes live`,
        fields: [
          { name: 'redis', label: 'redis', values: [health.bus === 'none' ? 'not used (a single node)' : health.bus] },
          { name: 'database', label: 'database', values: [health.storage] },
          ...lines,
        ],
      };
    },
  };
}
