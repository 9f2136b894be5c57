// A session bound on another node, as this node sees it: the fields routing and presence read (RFC 6121 §8.5
// needs every resource's availability and priority, probes need its last presence), replicated from the owning
// node's announcements. Sending to it travels over the cluster bus; the owning node writes to the socket.
import { Jid, parseXml, type StreamError, type XmlElement } from '@parley/protocol';
import type { Session } from '../core/sessions';

/** What a node announces about one of its sessions (JSON on the bus). */
export interface SessionRecord {
  /** Session id, unique across the cluster (random). */
  s: string;
  /** Full JID. */
  j: string;
  /** Bound at (ms since the epoch): a later bind of the same full JID wins (RFC 6120 §7.7.2.2). */
  b: number;
  a: boolean;
  p: number;
  i: boolean;
  sec: boolean;
  /** Last broadcast presence, serialised, or null. */
  x: string | null;
  /** Per-module state whose values are plain strings, numbers or booleans. */
  st: Record<string, string | number | boolean>;
}

export interface RemoteSessionLink {
  send(node: string, session: RemoteSession, xml: string): void;
  close(node: string, session: RemoteSession, error?: StreamError): void;
}

export class RemoteSession implements Session {
  readonly id: string;
  readonly jid: Jid;
  readonly boundAt: number;
  available = false;
  priority = 0;
  interested = false;
  secure = false;
  readonly state = new Map<string, unknown>();
  private presenceXml: string | null = null;
  private presenceEl: XmlElement | undefined;
  /** Set once the owning node said it ended, or the node is gone. */
  ended = false;

  constructor(
    readonly node: string,
    record: SessionRecord,
    private readonly link: RemoteSessionLink,
  ) {
    this.id = record.s;
    this.jid = Jid.parse(record.j);
    this.boundAt = record.b;
    this.update(record);
  }

  get remoteAddress(): string {
    return `cluster:${this.node}`;
  }

  get presence(): XmlElement | undefined {
    if (this.presenceXml === null) return undefined;
    return (this.presenceEl ??= parseXml(this.presenceXml));
  }

  set presence(_value: XmlElement | undefined) {
    // Presence of a remote session is owned by its node; modules only write it for their own sessions.
  }

  /** Applies an announcement; returns true when the presence changed. */
  update(record: SessionRecord): boolean {
    this.available = record.a;
    this.priority = record.p;
    this.interested = record.i;
    this.secure = record.sec;
    this.state.clear();
    for (const [k, v] of Object.entries(record.st)) this.state.set(k, v);
    if (record.x === this.presenceXml) return false;
    this.presenceXml = record.x;
    this.presenceEl = undefined;
    return true;
  }

  send(stanza: XmlElement): void {
    if (!this.ended) this.link.send(this.node, this, stanza.toString());
  }

  close(error?: StreamError): void {
    if (!this.ended) this.link.close(this.node, this, error);
  }
}
