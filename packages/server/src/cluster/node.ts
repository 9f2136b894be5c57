// One node of a cluster serving one domain. Storage is shared (one database); what lives in memory is shared
// over the bus (cluster/types.ts):
// - the session directory: every node announces its sessions (bind, presence, priority, the plain values of
//   their module state) and mirrors the others' as RemoteSessions in its session table, so RFC 6121 §8.5
//   routing, presence probes and carbons see every resource wherever its stream is;
// - delivery: sending to a RemoteSession publishes the stanza to the node holding the stream;
// - services whose state is in memory (a MUC room, a pubsub service) live on one node, chosen by rendezvous
//   hashing over the configured members that are live: when a node dies, its rooms go to the survivors (they
//   load them from the shared database), and come back to it when it returns; stanzas to them are forwarded there;
// - questions one node asks another (ask/answer): XEP-0198 hands a hibernating session over this way;
// - external components (XEP-0114): each node announces the components connected to it, so a stanza to a
//   component on another node is forwarded there, and a component reconnecting to another node replaces its
//   old stream (the newer connection wins on every node alike);
// - replies to server-originated iqs carry the requesting node's name in their id and go back to it;
// - cache invalidations, so a roster or block list cached on one node is re-read after another changed it.
// Membership is static (cluster.nodes); liveness is a heartbeat: a node silent for dead_after_ms loses its
// mirrored sessions, and modules hear of it (onNodeGone) to take over what it left in storage.
import { Jid, StreamError, StreamParser, type XmlElement } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import type { Session } from '../core/sessions';
import type { ClusterRoute } from '../core/router';
import type { HostedDomain } from '../core/domains';
import type { StanzaEvent } from '../core/events';
import type { Disposable } from '../core/hooks';
import { Priority } from '../core/hooks';
import { RemoteSession, type RemoteSessionLink, type SessionRecord } from './remote-session';
import { rendezvous, type Bus, type Cluster } from './types';
import { NODE_REPORT, nodeReport } from './status';

export interface ClusterNodeOptions {
  nodeId: string;
  /** Prefix of the bus channels (several clusters may share one Redis). Default: the domain. */
  name?: string;
  /** Every node that may serve the domain, this one included (services are placed among them). */
  members: string[];
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** How long start() waits for the other members to answer its hello. */
  joinWaitMs?: number;
}

type Broadcast =
  | { t: 'hello' | 'beat' | 'bye'; n: string }
  | { t: 'up'; n: string; r: SessionRecord }
  | { t: 'down'; n: string; s: string }
  | { t: 'inv'; n: string; topic: string; key: string }
  /** Component d is connected to node n since `at`; without `at`, it no longer is. */
  | { t: 'comp'; n: string; d: string; at?: number };

type Direct =
  | { t: 'snap'; n: string; r: SessionRecord[]; c?: [string, number][] }
  /** Deliver to the local session with id s (full JID j). */
  | { t: 'd'; s: string; j: string; x: string }
  | { t: 'c'; s: string; c?: string; x?: string }
  /** Route here: a stanza to a service entity this node owns, or a reply to an iq this node sent. */
  | { t: 'r'; n: string; x: string }
  /** A question (ask) with its number q, and its answer: the value p, or the error e. */
  | { t: 'q'; n: string; q: number; topic: string; p: unknown }
  | { t: 'a'; q: number; p?: unknown; e?: string };

interface Peer {
  lastSeen: number;
  readonly sessions: Map<string, RemoteSession>;
}

interface Announced {
  a: boolean;
  p: number;
  i: boolean;
  presence: XmlElement | undefined;
  st: string;
}

export class ClusterNode implements Cluster, ClusterRoute, RemoteSessionLink {
  readonly enabled = true;
  readonly nodeId: string;
  private readonly members: string[];
  private readonly peers = new Map<string, Peer>();
  private readonly localById = new Map<string, Session>();
  private readonly boundAt = new WeakMap<Session, number>();
  private readonly announced = new WeakMap<Session, Announced>();
  private readonly invalidators = new Map<string, Set<(key: string) => void>>();
  private readonly owners = new Map<string, string>();
  private readonly disposables: Disposable[] = [];
  private allChannel = '';
  private readonly reader = new StanzaReader();
  private server!: ParleyServer;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly heartbeatMs: number;
  private readonly deadAfterMs: number;
  private readonly answerers = new Map<string, (payload: unknown, from: string) => Promise<unknown>>();
  private readonly questions = new Map<number, { resolve: (p: unknown) => void; reject: (e: Error) => void; node: string; timer: NodeJS.Timeout }>();
  private nextQuestion = 1;
  private readonly changeListeners = new Set<(node: string, live: boolean) => void>();

  /** Created before the server so that modules can register invalidations while they load; attach() then. */
  constructor(
    private readonly bus: Bus,
    private readonly opts: ClusterNodeOptions,
  ) {
    this.nodeId = opts.nodeId;
    this.members = [...new Set([...opts.members, opts.nodeId])].sort();
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.deadAfterMs = opts.deadAfterMs ?? 5000;
  }

  attach(server: ParleyServer): void {
    this.server = server;
    if (server.cluster !== this) server.setCluster(this);
    this.allChannel = `parley:${this.opts.name ?? server.domain}:all`;
  }

  private channelOf(node: string): string {
    return `parley:${this.opts.name ?? this.server.domain}:node:${node}`;
  }

  async start(): Promise<void> {
    const { server } = this;
    await this.bus.subscribe(this.allChannel, (p) => this.onBroadcast(p));
    await this.bus.subscribe(this.channelOf(this.nodeId), (p) => this.onDirect(p));
    server.router.cluster = this;
    server.components.link = {
      announce: (d, at) => this.publishAll({ t: 'comp', n: this.nodeId, d, at }),
      withdraw: (d) => this.publishAll({ t: 'comp', n: this.nodeId, d }),
      forward: (node, event) => this.forward(node, event),
    };
    server.router.requestIdPrefix = `parley~${this.nodeId}~`;
    this.disposables.push(
      server.hooks.on(
        'session/bound',
        ({ session }) => {
          this.localById.set(session.id, session);
          this.boundAt.set(session, Date.now());
          this.announce(session);
          return false;
        },
        Priority.Filter,
      ),
      server.hooks.on(
        'session/closed',
        ({ session }) => {
          if (session.node !== undefined) return false;
          this.localById.delete(session.id);
          this.publishAll({ t: 'down', n: this.nodeId, s: session.id });
          return false;
        },
        Priority.Filter,
      ),
    );
    this.disposables.push(this.answer(NODE_REPORT, () => nodeReport(server)));
    this.publishAll({ t: 'hello', n: this.nodeId });
    // Back from a bus outage: the others may have dropped us, and we missed their changes. Saying hello again
    // makes them drop what they mirror of us and send their snapshots; our own sessions are announced again.
    this.bus.onReconnect?.(() => {
      for (const node of [...this.peers.keys()]) this.drop(node, 'bus reconnected');
      this.publishAll({ t: 'hello', n: this.nodeId });
      for (const s of this.localById.values()) if (this.isCurrent(s)) this.announce(s);
      for (const c of this.server.components.localStreams()) this.publishAll({ t: 'comp', n: this.nodeId, d: c.domain, at: c.connectedAt });
    });
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
    // Wait (briefly) for the others' snapshots, so the first logins already see the whole directory.
    const others = this.members.filter((m) => m !== this.nodeId);
    const deadline = Date.now() + (this.opts.joinWaitMs ?? 1000);
    while (others.some((m) => !this.peers.has(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.publishAll({ t: 'bye', n: this.nodeId });
    for (const d of this.disposables) d.dispose();
    if (this.server.router.cluster === this) this.server.router.cluster = undefined;
    this.server.components.link = undefined;
    await this.bus.close();
  }

  /** Nodes heard from recently, this one included. */
  liveNodes(): string[] {
    return [this.nodeId, ...this.peers.keys()].sort();
  }

  pingBus(): Promise<void> {
    return this.bus.ping?.() ?? Promise.resolve();
  }

  isLive(node: string): boolean {
    return node === this.nodeId || this.peers.has(node);
  }

  ownerAmongLive(key: string): string {
    return rendezvous(this.liveNodes(), key);
  }

  ask(node: string, topic: string, payload: unknown, timeoutMs = 5000): Promise<unknown> {
    if (!this.peers.has(node)) return Promise.reject(new Error(`cluster node ${node} is not live`));
    const q = this.nextQuestion++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.questions.delete(q);
        reject(new Error(`cluster node ${node} did not answer ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.questions.set(q, { resolve, reject, node, timer });
      this.publishTo(node, { t: 'q', n: this.nodeId, q, topic, p: payload });
    });
  }

  answer(topic: string, fn: (payload: unknown, from: string) => Promise<unknown>): Disposable {
    if (this.answerers.has(topic)) throw new Error(`cluster questions about ${topic} are answered already`);
    this.answerers.set(topic, fn);
    return { dispose: () => this.answerers.delete(topic) };
  }

  onNodesChanged(fn: (node: string, live: boolean) => void): Disposable {
    this.changeListeners.add(fn);
    return { dispose: () => this.changeListeners.delete(fn) };
  }

  private changed(node: string, live: boolean): void {
    for (const fn of this.changeListeners) {
      try {
        fn(node, live);
      } catch (err) {
        this.server.log.error({ err, node }, 'cluster: a membership handler failed');
      }
    }
  }

  // --- Cluster (for modules) ---

  invalidate(topic: string, key: string): void {
    this.publishAll({ t: 'inv', n: this.nodeId, topic, key });
  }

  onInvalidate(topic: string, fn: (key: string) => void): Disposable {
    let set = this.invalidators.get(topic);
    if (!set) this.invalidators.set(topic, (set = new Set()));
    set.add(fn);
    return { dispose: () => set.delete(fn) };
  }

  // --- ClusterRoute (for the router) ---

  ownerOf(domain: HostedDomain, to: Jid): string | undefined {
    // A room is one entity with its occupants in memory; other services keep per-service state: one node each.
    const key = domain.affinity === 'entity' && to.local !== undefined ? to.toBareString() : domain.name;
    const owner = this.ownerOfKey(key);
    return owner === this.nodeId ? undefined : owner;
  }

  /**
   * Rendezvous (highest random weight) hashing over the configured members that are live: every node computes
   * the same owner; adding a member moves only the keys it wins, and a dead member's keys spread over the others.
   */
  ownerOfKey(key: string): string {
    let owner = this.owners.get(key);
    if (owner !== undefined) return owner;
    owner = rendezvous(this.members.filter((m) => this.isLive(m)), key);
    if (this.owners.size > 100_000) this.owners.clear();
    this.owners.set(key, owner);
    return owner;
  }

  serves(key: string): boolean {
    return this.ownerOfKey(key) === this.nodeId;
  }

  forward(node: string, event: StanzaEvent): void {
    this.publishTo(node, { t: 'r', n: this.nodeId, x: event.stanza.toString() });
  }

  forwardResult(stanza: XmlElement): boolean {
    const id = stanza.attrs.id ?? '';
    if (!id.startsWith('parley~')) return false;
    const node = id.slice(7, id.indexOf('~', 7));
    if (node === this.nodeId || !this.peers.has(node)) return false;
    this.publishTo(node, { t: 'r', n: this.nodeId, x: stanza.toString() });
    return true;
  }

  touched(session: Session): void {
    if (session.node !== undefined || !this.localById.has(session.id)) return;
    const before = this.announced.get(session);
    if (
      before &&
      before.a === session.available &&
      before.p === session.priority &&
      before.i === session.interested &&
      before.presence === session.presence &&
      before.st === plainState(session)
    ) {
      return;
    }
    this.announce(session);
  }

  // --- RemoteSessionLink (for RemoteSession) ---

  send(node: string, session: RemoteSession, xml: string): void {
    this.publishTo(node, { t: 'd', s: session.id, j: session.jid.toString(), x: xml });
  }

  close(node: string, session: RemoteSession, error?: StreamError): void {
    this.publishTo(node, { t: 'c', s: session.id, c: error?.condition, x: error?.text });
  }

  // --- the bus ---

  private publishAll(msg: Broadcast): void {
    if (!this.stopped || msg.t === 'bye' || msg.t === 'down') this.bus.publish(this.allChannel, JSON.stringify(msg));
  }

  private publishTo(node: string, msg: Direct): void {
    this.bus.publish(this.channelOf(node), JSON.stringify(msg));
  }

  private record(session: Session): SessionRecord {
    const st = plainState(session);
    this.announced.set(session, { a: session.available, p: session.priority, i: session.interested, presence: session.presence, st });
    return {
      s: session.id,
      j: session.jid.toString(),
      b: this.boundAt.get(session) ?? Date.now(),
      a: session.available,
      p: session.priority,
      i: session.interested,
      sec: session.secure,
      x: session.presence ? session.presence.toString() : null,
      st: JSON.parse(st) as SessionRecord['st'],
    };
  }

  private announce(session: Session): void {
    this.publishAll({ t: 'up', n: this.nodeId, r: this.record(session) });
  }

  private seen(node: string): Peer {
    let peer = this.peers.get(node);
    if (!peer) {
      peer = { lastSeen: Date.now(), sessions: new Map() };
      this.peers.set(node, peer);
      this.owners.clear(); // placement follows the live members
      this.server.log.info({ node }, 'cluster: node joined');
      this.changed(node, true);
    }
    peer.lastSeen = Date.now();
    return peer;
  }

  private onBroadcast(payload: string): void {
    let msg: Broadcast;
    try {
      msg = JSON.parse(payload) as Broadcast;
    } catch {
      return;
    }
    if (msg.n === this.nodeId || this.stopped) return;
    switch (msg.t) {
      case 'hello':
        // A node we knew says hello again: it restarted, and the sessions it had are gone with the old process.
        if (this.peers.has(msg.n)) this.drop(msg.n, 'restarted');
        this.seen(msg.n);
        this.publishTo(msg.n, {
          t: 'snap',
          n: this.nodeId,
          r: [...this.localById.values()].filter((s) => this.isCurrent(s)).map((s) => this.record(s)),
          c: this.server.components.localStreams().map((c) => [c.domain, c.connectedAt]),
        });
        return;
      case 'beat':
        this.seen(msg.n);
        return;
      case 'bye':
        this.drop(msg.n, 'left');
        return;
      case 'up':
        this.upsert(msg.n, msg.r);
        return;
      case 'down':
        this.remove(msg.n, msg.s);
        return;
      case 'inv':
        for (const fn of this.invalidators.get(msg.topic) ?? []) fn(msg.key);
        return;
      case 'comp':
        this.seen(msg.n);
        if (msg.at === undefined) this.server.components.remoteDown(msg.n, msg.d);
        else this.server.components.remoteUp(msg.d, msg.n, msg.at);
        return;
    }
  }

  private onDirect(payload: string): void {
    let msg: Direct;
    try {
      msg = JSON.parse(payload) as Direct;
    } catch {
      return;
    }
    if (this.stopped) return;
    switch (msg.t) {
      case 'snap':
        for (const r of msg.r) this.upsert(msg.n, r);
        for (const [d, at] of msg.c ?? []) this.server.components.remoteUp(d, msg.n, at);
        this.seen(msg.n);
        return;
      case 'd':
        return this.deliver(msg.s, msg.j, msg.x);
      case 'c': {
        const session = this.localById.get(msg.s);
        if (session && this.isCurrent(session)) session.close(msg.c ? new StreamError(msg.c as never, msg.x) : undefined);
        return;
      }
      case 'r':
        return this.routeForwarded(msg.n, msg.x);
      case 'q':
        return void this.answerQuestion(msg.n, msg.q, msg.topic, msg.p);
      case 'a': {
        const question = this.questions.get(msg.q);
        if (!question) return;
        this.questions.delete(msg.q);
        clearTimeout(question.timer);
        if (msg.e !== undefined) question.reject(new Error(msg.e));
        else question.resolve(msg.p);
        return;
      }
    }
  }

  private async answerQuestion(node: string, q: number, topic: string, payload: unknown): Promise<void> {
    const fn = this.answerers.get(topic);
    try {
      if (!fn) throw new Error(`node ${this.nodeId} answers no questions about ${topic}`);
      this.publishTo(node, { t: 'a', q, p: (await fn(payload, node)) ?? null });
    } catch (err) {
      this.publishTo(node, { t: 'a', q, e: (err as Error).message });
    }
  }

  private isCurrent(session: Session): boolean {
    return this.server.sessions.get(session.jid) === session;
  }

  private upsert(node: string, record: SessionRecord): void {
    const peer = this.seen(node);
    const existing = peer.sessions.get(record.s);
    if (existing) {
      existing.update(record);
      void this.server.hooks.fire('remote-session/updated', { session: existing });
      return;
    }
    const remote = new RemoteSession(node, record, this);
    const current = this.server.sessions.get(remote.jid);
    if (current) {
      // RFC 6120 §7.7.2.2: the newer bind of a full JID wins; both nodes reach the same verdict.
      const currentAt = current instanceof RemoteSession ? current.boundAt : (this.boundAt.get(current) ?? 0);
      const currentNode = current.node ?? this.nodeId;
      if (currentAt > remote.boundAt || (currentAt === remote.boundAt && currentNode > node)) {
        peer.sessions.set(remote.id, remote);
        return;
      }
    }
    peer.sessions.set(remote.id, remote);
    this.server.sessions.add(remote);
    void this.server.hooks.fire('remote-session/updated', { session: remote });
  }

  private remove(node: string, sessionId: string): void {
    const peer = this.peers.get(node);
    const remote = peer?.sessions.get(sessionId);
    if (!peer || !remote) return;
    peer.sessions.delete(sessionId);
    this.end(remote);
  }

  private end(remote: RemoteSession): void {
    remote.ended = true;
    if (this.server.sessions.remove(remote)) void this.server.hooks.fire('remote-session/ended', { session: remote });
  }

  private drop(node: string, why: string): void {
    const peer = this.peers.get(node);
    if (!peer) return;
    this.peers.delete(node);
    this.owners.clear();
    for (const remote of peer.sessions.values()) this.end(remote);
    this.server.components.remoteDown(node);
    for (const [q, question] of this.questions) {
      if (question.node !== node) continue;
      this.questions.delete(q);
      clearTimeout(question.timer);
      question.reject(new Error(`cluster node ${node} is gone`));
    }
    this.server.log.warn({ node, sessions: peer.sessions.size, why }, 'cluster: node gone');
    this.changed(node, false);
  }

  private tick(): void {
    this.publishAll({ t: 'beat', n: this.nodeId });
    const now = Date.now();
    for (const [node, peer] of this.peers) if (now - peer.lastSeen > this.deadAfterMs) this.drop(node, 'no heartbeat');
    // Sessions replaced by a bind elsewhere leave the table without session/closed.
    for (const [id, s] of this.localById) if (!this.isCurrent(s)) this.localById.delete(id);
  }

  private deliver(sessionId: string, jid: string, xmlText: string): void {
    const stanza = this.reader.read(xmlText);
    if (!stanza) return;
    const session = this.localById.get(sessionId);
    if (session && this.isCurrent(session)) return session.send(stanza);
    // The stream ended while the stanza travelled: route it again as if it had been sent now (RFC 6121
    // §8.5.3.2.1: a message to a resource that is gone goes to the bare JID, an iq gets an error).
    const full = Jid.tryParse(jid);
    if (!full || this.server.sessions.get(full) !== undefined) return;
    void this.server.router.route(stanza, { kind: 'local' }).catch((err) => this.server.log.warn({ err }, 'cluster: re-route failed'));
  }

  private routeForwarded(node: string, xmlText: string): void {
    const stanza = this.reader.read(xmlText);
    if (!stanza) return;
    let from: Jid;
    let to: Jid;
    try {
      from = Jid.parse(stanza.attrs.from!);
      to = Jid.parse(stanza.attrs.to!);
    } catch {
      return;
    }
    void this.server.router.deliverForwarded({ stanza, from, to, origin: { kind: 'cluster', node } });
  }
}

/**
 * Parses stanzas arriving over the bus with one long-lived streaming parser: a new parser per stanza costs more
 * than the rest of the delivery.
 */
class StanzaReader {
  private parser!: StreamParser;
  private element: XmlElement | undefined;
  private failed = false;

  constructor() {
    this.reset();
  }

  private reset(): void {
    this.parser = new StreamParser(
      {
        onOpen: () => {},
        onElement: (el) => {
          this.element = el;
        },
        onClose: () => {},
        onError: () => {
          this.failed = true;
        },
      },
      { maxStanzaSize: 1 << 24 },
    );
    this.parser.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
  }

  read(text: string): XmlElement | undefined {
    this.element = undefined;
    this.parser.write(text);
    const el = this.element;
    if (this.failed || !el) {
      this.failed = false;
      this.reset();
      return undefined;
    }
    this.element = undefined;
    return el;
  }
}

/** The module state values other nodes can read (carbons on, block list requested …): plain JSON only. */
function plainState(session: Session): string {
  let out = '';
  for (const [k, v] of session.state) {
    const t = typeof v;
    if (t === 'string' || t === 'number' || t === 'boolean') out += (out ? ',' : '') + `${JSON.stringify(k)}:${JSON.stringify(v)}`;
  }
  return `{${out}}`;
}
