// Where another server's XMPP service is (RFC 6120 §3.2.1, XEP-0368): the SRV records _xmpps-server._tcp (direct
// TLS) and _xmpp-server._tcp (STARTTLS), tried by priority and weight; a single "." target says the domain offers no
// federation (RFC 2782). Without SRV records, the domain itself on port 5269 (RFC 6120 §3.2.2). DNS that does not
// answer fails over quickly: a resolver with a timeout and one try, so queued stanzas bounce instead of waiting
// for the system resolver's minutes.
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

export interface S2sTarget {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte (_xmpps-server), rather than STARTTLS. */
  directTls: boolean;
}

export interface S2sResolverOptions {
  /** DNS servers (address or address:port); empty: the system's. */
  servers: string[];
  timeoutMs: number;
  /** s2s.static_routes: domain → host:port, looked up before DNS (tests, split-horizon set-ups). */
  staticRoutes: Record<string, string>;
}

export class NoXmppService extends Error {}

const DEFAULT_PORT = 5269;

export class S2sResolver {
  private readonly resolver: Resolver;

  constructor(private readonly options: S2sResolverOptions) {
    this.resolver = new Resolver({ timeout: options.timeoutMs, tries: 1 });
    if (options.servers.length > 0) this.resolver.setServers(options.servers);
  }

  /** Candidates in the order to try them; throws NoXmppService when the domain says it has no XMPP service. */
  async resolve(domain: string): Promise<S2sTarget[]> {
    const route = this.options.staticRoutes[domain];
    if (route !== undefined) return [parseHostPort(route)];
    const [tls, plain] = await Promise.all([this.srv(`_xmpps-server._tcp.${domain}`), this.srv(`_xmpp-server._tcp.${domain}`)]);
    // RFC 2782: a lone "." target means "decidedly not available here".
    const none = (records: SrvRecord[] | undefined) => records?.length === 1 && (records[0]!.name === '' || records[0]!.name === '.');
    if (none(tls) && none(plain)) throw new NoXmppService(`${domain} has no XMPP server-to-server service`);
    const targets = [
      ...(none(tls) ? [] : (tls ?? []).map((r) => ({ ...r, directTls: true }))),
      ...(none(plain) ? [] : (plain ?? []).map((r) => ({ ...r, directTls: false }))),
    ];
    if (targets.length === 0) return [{ host: domain, port: DEFAULT_PORT, directTls: false }];
    // XEP-0368 §3: both kinds merged by priority; a weighted random order within one priority (RFC 2782).
    const weighted = targets.map((t) => ({ t, key: t.priority * 1e6 - Math.random() * (t.weight + 1) }));
    weighted.sort((a, b) => a.key - b.key);
    return weighted.map(({ t }) => ({ host: t.name, port: t.port, directTls: t.directTls }));
  }

  /**
   * The addresses of a target host (AAAA and A, RFC 6120 §3.2.1 step 6), through the same resolver and timeout, so
   * a DNS server that does not answer costs seconds, not the system resolver's minutes. An IP literal is itself.
   */
  async addresses(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    const [v6, v4] = await Promise.all([this.resolver.resolve6(host).catch(() => []), this.resolver.resolve4(host).catch(() => [])]);
    return [...v6, ...v4];
  }

  /** SRV records, or undefined when there are none or DNS did not answer (then the fallback applies). */
  private async srv(name: string): Promise<SrvRecord[] | undefined> {
    try {
      return await this.resolver.resolveSrv(name);
    } catch {
      return undefined;
    }
  }
}

interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** A static route: host:port (STARTTLS), or tls:host:port (XEP-0368 direct TLS). */
export function parseHostPort(route: string): S2sTarget {
  const directTls = route.startsWith('tls:');
  const value = directTls ? route.slice(4) : route;
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(value.slice(i + 1)), directTls };
}
