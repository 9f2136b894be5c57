// `parley status` (and the same command for the HTTP admin API later): what an operator checks first. Declared as
// an AdminCommand so that every front end runs this one definition; modules add their own lines (rooms, …)
// through the 'status/requested' event rather than the core reaching into them.
import { VERSION } from '../version';
import type { AdminCommand, CommandResult } from './commands';
import type { ParleyServer } from './server';
import { countSessions } from './sessions';

export type StatusField = NonNullable<CommandResult['fields']>[number];

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

export function statusCommand(server: ParleyServer): AdminCommand {
  return {
    name: 'status',
    description: 'Version, uptime, sessions, memory and event-loop delay of the running server',
    fields: [],
    live: true,
    async run() {
      const r = server.runtime.snapshot();
      const n = countSessions(server.sessions.all());
      const fields: StatusField[] = [
        { name: 'version', label: 'version', values: [`Parley ${VERSION} (Node.js ${process.version})`] },
        { name: 'domain', label: 'domain', values: [server.domain] },
        { name: 'uptime', label: 'uptime', values: [`${r.uptimeSeconds} s`] },
        // By transport: client TCP streams (RFC 6120), WebSocket (RFC 7395) and BOSH (XEP-0206), each encrypted
        // (STARTTLS, direct TLS, wss, https) or not.
        { name: 'sessions.c2s_tls', label: 'sessions c2s (TLS)', values: [String(n.c2s_tls)] },
        { name: 'sessions.c2s_plain', label: 'sessions c2s (unencrypted)', values: [String(n.c2s_plain)] },
        { name: 'sessions.websocket_tls', label: 'sessions WebSocket (TLS)', values: [String(n.websocket_tls)] },
        { name: 'sessions.websocket_plain', label: 'sessions WebSocket (unencrypted)', values: [String(n.websocket_plain)] },
        { name: 'sessions.bosh_tls', label: 'sessions BOSH (TLS)', values: [String(n.bosh_tls)] },
        { name: 'sessions.bosh_plain', label: 'sessions BOSH (unencrypted)', values: [String(n.bosh_plain)] },
        { name: 'sessions.other_nodes', label: 'sessions on other cluster nodes', values: [String(n.other_node)] },
        { name: 's2s', label: 's2s links', values: [server.s2s ? `${server.s2s.connectionCount} (to ${server.s2s.outgoingDomains.join(', ') || 'no domain'})` : 'federation disabled'] },
      ];
      await server.hooks.fire('status/requested', { fields });
      fields.push(
        { name: 'memory.rss', label: 'memory (RSS)', values: [mib(r.rssBytes)] },
        { name: 'memory.heap', label: 'memory (JS heap)', values: [mib(r.heapUsedBytes)] },
        { name: 'event_loop_delay', label: 'event-loop delay p50/p99/max', values: [`${r.loopDelayMs.p50}/${r.loopDelayMs.p99}/${r.loopDelayMs.max} ms`] },
      );
      return { note: `Parley ${VERSION} running for ${server.domain}`, fields };
    },
  };
}
