// The session table: which full JIDs are bound where. Sessions of this node, and, in a cluster, mirrors of the
// sessions bound on other nodes (cluster/remote-session.ts), so routing and presence see every resource.
import { Jid, StreamError, type XmlElement } from '@parley/protocol';

/**
 * How a client's stream reaches us, by framing: 'tcp' is RFC 6120's raw XML stream (plain, STARTTLS or direct TLS,
 * XEP-0368), 'websocket' RFC 7395's one element per message. Operators size and debug them apart.
 */
export type SessionTransport = 'tcp' | 'websocket' | 'bosh';

export interface Session {
  readonly id: string;
  /** The bound full JID. */
  readonly jid: Jid;
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** The transport of this node's session now (XEP-0198 resumption may move it); undefined for another node's. */
  readonly transport?: SessionTransport;
  /** Set once the client sent initial presence (RFC 6121 §4.2) and until it sends unavailable. */
  available: boolean;
  /** The last available presence broadcast by the client, without 'to' (for probes and late joiners). */
  presence: XmlElement | undefined;
  /** Presence priority, -128..127 (RFC 6121 §4.7.2.3); negative never receives bare-JID messages. */
  priority: number;
  /** The client requested the roster during this session (RFC 6121 §2.1.6: only then it gets pushes). */
  interested: boolean;
  /** Per-module session state, keyed by module name (no untyped bag of fields on the session itself). */
  readonly state: Map<string, unknown>;
  /** The cluster node holding the stream; undefined for a session of this node. */
  readonly node?: string;
  /** Queues a stanza for the client. */
  send(stanza: XmlElement): void;
  /**
   * Resolves when the client's connection has taken what was queued so far (or is gone), for senders of many
   * stanzas in a row (offline delivery) to wait between batches. Optional: absent, they only yield between batches.
   */
  drained?(): Promise<void>;
  /** Ends the stream, with a stream error when given. */
  close(error?: StreamError): void;
}

export class SessionTable {
  private readonly byBare = new Map<string, Map<string, Session>>();
  private count = 0;
  private localCount = 0;

  /** Sessions of the whole cluster. */
  get size(): number {
    return this.count;
  }

  /** Sessions whose stream this node holds (what connection limits count). */
  get localSize(): number {
    return this.localCount;
  }

  /** RFC 6120 §7.7.2.2: a bind to a full JID already in use replaces the old session, which gets <conflict/>. */
  add(session: Session): void {
    const bare = session.jid.toBareString();
    let resources = this.byBare.get(bare);
    if (!resources) {
      resources = new Map();
      this.byBare.set(bare, resources);
    }
    const existing = resources.get(session.jid.resource!);
    if (existing && existing !== session) {
      resources.delete(session.jid.resource!);
      this.count--;
      if (existing.node === undefined) this.localCount--;
      existing.close(new StreamError('conflict', 'Replaced by new connection'));
    }
    resources.set(session.jid.resource!, session);
    this.count++;
    if (session.node === undefined) this.localCount++;
  }

  remove(session: Session): boolean {
    const bare = session.jid.toBareString();
    const resources = this.byBare.get(bare);
    if (!resources || resources.get(session.jid.resource!) !== session) return false;
    resources.delete(session.jid.resource!);
    this.count--;
    if (session.node === undefined) this.localCount--;
    if (resources.size === 0) this.byBare.delete(bare);
    return true;
  }

  get(full: Jid): Session | undefined {
    if (full.resource === undefined) return undefined;
    return this.byBare.get(full.toBareString())?.get(full.resource);
  }

  /** All sessions of an account (bare JID string). */
  ofAccount(bare: string): Session[] {
    const resources = this.byBare.get(bare);
    return resources ? [...resources.values()] : [];
  }

  /**
   * RFC 6121 §8.5.2.1.1: the available resources with non-negative priority that rank highest — where a
   * message of type chat or normal to the bare JID goes (carbons copy to the others).
   */
  highestPriority(bare: string): Session[] {
    let best: Session[] = [];
    let max = -1;
    const resources = this.byBare.get(bare);
    if (!resources) return best;
    for (const s of resources.values()) {
      if (!s.available || s.priority < 0) continue;
      if (s.priority > max) {
        max = s.priority;
        best = [s];
      } else if (s.priority === max) best.push(s);
    }
    return best;
  }

  hasAccount(bare: string): boolean {
    return this.byBare.has(bare);
  }

  isResourceInUse(bare: string, resource: string): boolean {
    return this.byBare.get(bare)?.has(resource) ?? false;
  }

  *all(): IterableIterator<Session> {
    for (const resources of this.byBare.values()) yield* resources.values();
  }

  *local(): IterableIterator<Session> {
    for (const s of this.all()) if (s.node === undefined) yield s;
  }
}

/** Bound sessions by transport and encryption, the split `parley status` and the parley_sessions metric show. */
export interface SessionCounts {
  c2s_tls: number;
  c2s_plain: number;
  websocket_tls: number;
  websocket_plain: number;
  bosh_tls: number;
  bosh_plain: number;
  /** Mirrors of sessions bound on other cluster nodes (counted there by transport). */
  other_node: number;
}

export function countSessions(sessions: Iterable<Session>): SessionCounts {
  const counts: SessionCounts = { c2s_tls: 0, c2s_plain: 0, websocket_tls: 0, websocket_plain: 0, bosh_tls: 0, bosh_plain: 0, other_node: 0 };
  for (const s of sessions) {
    if (s.node !== undefined) counts.other_node++;
    else if (s.transport === 'websocket') counts[s.secure ? 'websocket_tls' : 'websocket_plain']++;
    else if (s.transport === 'bosh') counts[s.secure ? 'bosh_tls' : 'bosh_plain']++;
    else counts[s.secure ? 'c2s_tls' : 'c2s_plain']++;
  }
  return counts;
}
