// External components (XEP-0114): the routing side. Each configured component domain is a hosted domain of kind
// 'component' whose stanzas all go to the component's stream — disco#info, iq results and errors included, since
// the component, not the server, is the entity at that address (XEP-0114 §1). The stream side is
// stream/component-policy.ts; this table only knows which stream (or, in a cluster, which node) holds a domain.
import { StanzaError, StreamError, type XmlElement } from '@parley/protocol';
import type { StanzaEvent } from './events';
import { HostedDomain } from './domains';
import type { Logger } from '../log';

/** What the table needs of a component's stream. */
export interface ComponentStream {
  /** The component's domain (XEP-0114 §3: the 'to' of its header). */
  readonly domain: string;
  /** When the handshake succeeded (ms since the epoch): the newer of two connections for one domain wins. */
  readonly connectedAt: number;
  send(stanza: XmlElement): void;
  close(error?: StreamError): void;
}

/** How the table tells the other nodes of a cluster where a component is (cluster/node.ts). */
export interface ComponentLink {
  /** This node now holds the component's stream. */
  announce(domain: string, connectedAt: number): void;
  /** This node no longer holds it. */
  withdraw(domain: string): void;
  /** Hands a stanza to the node holding the component. */
  forward(node: string, event: StanzaEvent): void;
}

interface Route {
  local?: ComponentStream;
  /** Another node of the cluster holds the stream, connected at `at`. */
  remote?: { node: string; at: number };
}

export class ComponentTable {
  /** Configured domain → secret. Never logged. */
  private readonly secrets = new Map<string, string>();
  private readonly routes = new Map<string, Route>();
  link: ComponentLink | undefined;

  constructor(
    private readonly domains: Map<string, HostedDomain>,
    /** The main host: its disco#items list the connected components (XEP-0030 §4.1, XEP-0114 §1). */
    private readonly main: HostedDomain,
    private readonly nodeId: () => string,
    private readonly log: Logger,
  ) {}

  /** Hosts a configured component domain: stanzas to it bounce with service-unavailable until it connects. */
  configure(domain: string, secret: string): void {
    if (this.domains.has(domain)) throw new Error(`domain ${domain} is already hosted`);
    const hosted = new HostedDomain(domain, 'component');
    hosted.handler = (event) => this.deliver(domain, event);
    this.domains.set(domain, hosted);
    this.secrets.set(domain, secret);
    this.routes.set(domain, {});
  }

  isConfigured(domain: string): boolean {
    return this.secrets.has(domain);
  }

  secretOf(domain: string): string | undefined {
    return this.secrets.get(domain);
  }

  /** Domains whose stream this node holds, for a cluster snapshot. */
  localStreams(): ComponentStream[] {
    return [...this.routes.values()].flatMap((r) => (r.local ? [r.local] : []));
  }

  /** Whether the component is connected anywhere in the cluster. */
  isConnected(domain: string): boolean {
    const r = this.routes.get(domain);
    return r?.local !== undefined || r?.remote !== undefined;
  }

  /**
   * The component authenticated on `stream`. A stream it had before, here or on another node, is replaced: the
   * component reconnected, and the old connection (half-open, or a second instance) gets <conflict/> (RFC 6120
   * §4.9.3.3, as for a resource bound twice).
   */
  attach(stream: ComponentStream): void {
    const route = this.routes.get(stream.domain)!;
    const old = route.local;
    route.local = stream;
    route.remote = undefined;
    if (old && old !== stream) old.close(new StreamError('conflict', 'Replaced by a new connection of the component'));
    this.listed(stream.domain, true);
    this.link?.announce(stream.domain, stream.connectedAt);
    this.log.info({ component: stream.domain }, 'component connected');
  }

  /** The stream ended; nothing happens when another stream replaced it already. */
  detach(stream: ComponentStream): void {
    const route = this.routes.get(stream.domain);
    if (!route || route.local !== stream) return;
    route.local = undefined;
    this.listed(stream.domain, false);
    this.link?.withdraw(stream.domain);
    this.log.info({ component: stream.domain }, 'component disconnected');
  }

  /** Another node holds the component's stream since `at`; ours, if older, is replaced. */
  remoteUp(domain: string, node: string, at: number): void {
    const route = this.routes.get(domain);
    if (!route) return;
    const local = route.local;
    // The newer connection wins on every node alike; equal times go to the greater node name.
    if (local && (local.connectedAt > at || (local.connectedAt === at && this.nodeId() > node))) return;
    route.remote = { node, at };
    if (local) {
      route.local = undefined;
      local.close(new StreamError('conflict', 'Replaced by a new connection of the component'));
    }
    this.listed(domain, true);
  }

  /** The node no longer holds the component (it disconnected, or the node is gone: `domain` undefined). */
  remoteDown(node: string, domain?: string): void {
    for (const [d, route] of this.routes) {
      if ((domain === undefined || d === domain) && route.remote?.node === node) {
        route.remote = undefined;
        if (!route.local) this.listed(d, false);
      }
    }
  }

  /** Closes every local component stream (RFC 6120 §4.9.3.19). */
  closeAll(): void {
    for (const s of this.localStreams()) s.close(new StreamError('system-shutdown'));
  }

  // XEP-0114 §1: the server delivers everything addressed to the component's domain (or a JID at it) to the
  // component. Not connected: RFC 6120 §10.4.3 / §8.3.3.19 service-unavailable, which the router bounces.
  private deliver(domain: string, event: StanzaEvent): void {
    const route = this.routes.get(domain);
    if (route?.local) return route.local.send(event.stanza);
    // A stanza another node forwarded is not forwarded again: two nodes disagreeing for a moment must not loop.
    if (route?.remote && this.link && event.origin.kind !== 'cluster') return this.link.forward(route.remote.node, event);
    throw new StanzaError('service-unavailable', 'the component is not connected');
  }

  private listed(domain: string, connected: boolean): void {
    const i = this.main.items.findIndex((it) => it.jid === domain);
    if (connected && i === -1) this.main.items.push({ jid: domain });
    if (!connected && i !== -1) this.main.items.splice(i, 1);
  }
}
