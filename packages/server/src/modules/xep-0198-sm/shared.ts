// XEP-0198 §5 in a cluster: any node resumes any session. Each node keeps the state of its resumable sessions
// (the 'h' counters, the stanzas the client has not acknowledged, the bound resource and its presence) in the
// shared storage, written within a tick of every change: a node killed without warning leaves them behind, and
// another node serves a <resume/> from them. Where a session lives now is a second record keyed by its SM-ID, so
// a session resumed elsewhere keeps its SM-ID (the <resumed/> of §5 names the previd).
//
// - A <resume/> for a session held by a live node asks that node (cluster.ask) to hand it over: it writes the last
//   state, closes its copy without routing the stanzas elsewhere, and the asking node takes the record.
// - A dead node's records are adopted by one live node (rendezvous hashing over the live nodes, so exactly one
//   does): the sessions stay resumable for the rest of their window, then what the client never acknowledged is
//   routed again as for a session ending here (unacked.ts: other resources, else offline storage). A node that
//   restarts adopts what its previous process left.
// Taking a record is atomic (Storage.exclusive: a row lock on PostgreSQL), so two nodes never both resume or
// expire one session.
import type { Cluster } from '../../cluster/types';
import type { Disposable } from '../../core/hooks';
import type { Logger } from '../../log';
import type { KeyValueStore, MapStore } from '../../storage/types';
import type { SmState } from './state';

/** One resumable session as stored: plain JSON. */
export interface StoredSession {
  /** Bare JID of the account: only it may resume (§5, §9). */
  account: string;
  /** The bound full JID. */
  jid: string;
  /** Stanzas handled from the client ('h' of <resumed/>). */
  inbound: number;
  /** The client's last 'h'. */
  acked: number;
  /** Unacknowledged stanzas, oldest first, serialised, with when they were sent. */
  unacked: { x: string; at: number }[];
  /** Seconds the session waits to be resumed. */
  window: number;
  /** When it lost its connection (ms since the epoch); absent while it had one. */
  since?: number;
  available: boolean;
  priority: number;
  interested: boolean;
  presence: string | null;
  /** The modules' session state that can travel (portableState): carbons on, directed presences … */
  state?: Record<string, unknown>;
}

export const HAND_OVER = 'xep-0198/hand-over';

/** How often a node looks for sessions left by dead nodes besides when it hears of a death. */
const SWEEP_EVERY_MS = 60_000;

interface Writing {
  dirty: boolean;
  running: Promise<void> | undefined;
  /** The location record names this node. */
  located: boolean;
  /** Ended here: nothing more is written. */
  done: boolean;
}

export interface SharedDeps {
  cluster: Cluster;
  /** Owner: the node holding the session; key: the SM-ID. */
  sessions: MapStore<StoredSession>;
  /** Owner: the SM-ID; value: the node holding it. */
  locations: KeyValueStore<string>;
  exclusive<T>(scope: string, owner: string, fn: () => Promise<T>): Promise<T>;
  log: Logger;
  /** Routes the unacknowledged stanzas of a session that ended elsewhere (unacked.ts). */
  routeAgain(stored: StoredSession): Promise<void>;
}

export class SharedResumptions {
  private readonly writing = new WeakMap<SmState, Writing>();
  /** Timers of the dead nodes' sessions this node adopted, by node and SM-ID. */
  private readonly adopted = new Map<string, NodeJS.Timeout>();
  private readonly disposables: Disposable[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private sweeping: Promise<void> | undefined;
  private ownSwept = false;
  private stopped = false;

  constructor(private readonly deps: SharedDeps) {
    this.disposables.push(deps.cluster.onNodesChanged((_node, live) => !live && this.sweep()));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
    this.sweep();
  }

  private get nodeId(): string {
    return this.deps.cluster.nodeId;
  }

  /** The session changed (counters, queue, connection): its record is rewritten once the current tick is over. */
  persist(sm: SmState): void {
    if (sm.id === undefined || this.stopped) return;
    let w = this.writing.get(sm);
    if (!w) this.writing.set(sm, (w = { dirty: false, running: undefined, located: false, done: false }));
    if (w.done) return;
    w.dirty = true;
    w.running ??= this.drain(sm, w);
  }

  /** Resolves once the record holds the session as it is now. */
  async flush(sm: SmState): Promise<void> {
    this.persist(sm);
    const w = this.writing.get(sm);
    while (w?.running) await w.running;
  }

  private async drain(sm: SmState, w: Writing): Promise<void> {
    await new Promise((r) => setImmediate(r)); // one write for a burst of stanzas
    while (w.dirty && !w.done) {
      w.dirty = false;
      try {
        await this.deps.sessions.set(this.nodeId, sm.id!, snapshot(sm));
        if (!w.located) {
          await this.deps.locations.set(sm.id!, this.nodeId);
          w.located = true;
        }
      } catch (err) {
        this.deps.log.warn({ err }, 'stream management: the session state could not be stored');
      }
    }
    w.running = undefined;
  }

  /** The session ended here (resumption is over for it): its records go. */
  async forget(sm: SmState): Promise<void> {
    const w = this.writing.get(sm);
    if (sm.id === undefined || !w) return;
    w.done = true;
    if (w.running) await w.running;
    try {
      await this.deps.sessions.set(this.nodeId, sm.id, undefined);
      await this.deps.exclusive('sm-location', sm.id, async () => {
        if ((await this.deps.locations.get(sm.id!)) === this.nodeId) await this.deps.locations.set(sm.id!, undefined);
      });
    } catch (err) {
      this.deps.log.warn({ err }, 'stream management: the stored session state could not be deleted');
    }
  }

  /** The session continues on another node: nothing more is written here, and its records stay for that node. */
  release(sm: SmState): void {
    const w = this.writing.get(sm);
    if (w) w.done = true;
  }

  /** The node holding the session with this SM-ID, if any does. */
  locate(id: string): Promise<string | undefined> {
    return this.deps.locations.get(id);
  }

  /** Removes and returns the record of `node`'s session `id` when it belongs to `account` (any account without). */
  take(node: string, id: string, account?: string): Promise<StoredSession | undefined> {
    return this.deps.exclusive('sm', node, async () => {
      const stored = await this.deps.sessions.get(node, id);
      if (!stored || (account !== undefined && stored.account !== account)) return undefined;
      await this.deps.sessions.set(node, id, undefined);
      return stored;
    });
  }

  /** Adopts the sessions of nodes that are gone (and, once, those this node's previous process left). */
  sweep(): void {
    if (this.stopped || this.sweeping) return;
    this.sweeping = this.adoptOrphans()
      .catch((err: unknown) => this.deps.log.warn({ err }, 'stream management: looking for sessions of dead nodes failed'))
      .finally(() => (this.sweeping = undefined));
  }

  private async adoptOrphans(): Promise<void> {
    const { cluster, sessions } = this.deps;
    const own = !this.ownSwept;
    this.ownSwept = true;
    for (const node of await sessions.owners()) {
      // Our own records are our live sessions, except at start: then they are what the previous process left.
      const mine = node === this.nodeId ? own : !cluster.isLive(node) && cluster.ownerAmongLive(`xep-0198:${node}`) === this.nodeId;
      if (!mine) continue;
      for (const [id, stored] of await sessions.getAll(node)) {
        const key = `${node}\u0000${id}`;
        if (this.adopted.has(key) || this.stopped) continue;
        // It waits what is left of its window (all of it for a session whose connection died with its node).
        const deadline = (stored.since ?? Date.now()) + stored.window * 1000;
        const timer = setTimeout(() => void this.expire(node, id, key), Math.max(0, deadline - Date.now()));
        timer.unref();
        this.adopted.set(key, timer);
      }
      this.deps.log.info({ node }, 'stream management: adopted the resumable sessions of a node that is gone');
    }
  }

  /** The window of an adopted session is over: unless resumed meanwhile, its stanzas are routed again. */
  private async expire(node: string, id: string, key: string): Promise<void> {
    this.adopted.delete(key);
    // The node came back (a network partition, not a death): its sessions are its own again.
    if (node !== this.nodeId && this.deps.cluster.isLive(node)) return;
    try {
      const stored = await this.take(node, id);
      if (!stored) return;
      await this.deps.exclusive('sm-location', id, async () => {
        if ((await this.deps.locations.get(id)) === node) await this.deps.locations.set(id, undefined);
      });
      await this.deps.routeAgain(stored);
    } catch (err) {
      this.deps.log.error({ err, node }, 'stream management: routing the stanzas of a session left by a dead node failed');
    }
  }

  /** The record of a session taken by this node: its timer (if adopted) stops. */
  taken(node: string, id: string): void {
    const key = `${node}\u0000${id}`;
    clearTimeout(this.adopted.get(key));
    this.adopted.delete(key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const d of this.disposables) d.dispose();
    for (const t of this.adopted.values()) clearTimeout(t);
    this.adopted.clear();
    await this.sweeping;
  }
}

function snapshot(sm: SmState): StoredSession {
  const s = sm.stream;
  return {
    account: s.jid.toBareString(),
    jid: s.jid.toString(),
    inbound: sm.inbound,
    acked: sm.acked,
    unacked: sm.unacked.map((u) => ({ x: u.stanza.toString(), at: u.at })),
    window: sm.window,
    since: sm.hibernatingSince,
    available: s.available,
    priority: s.priority,
    interested: s.interested,
    presence: s.presence ? s.presence.toString() : null,
    state: portableState(s.state),
  };
}

/**
 * The modules' per-session state that travels with a session to another node: plain values (carbons enabled,
 * XEP-0280 §6) and sets of strings (the directed presences of RFC 6121 §4.6.3, so that going offline later still
 * reaches the rooms joined before). Anything else stays behind, as it would on a restart.
 */
export function portableState(state: ReadonlyMap<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of state) {
    const t = typeof v;
    if (t === 'string' || t === 'number' || t === 'boolean') out[k] = v;
    else if (v instanceof Set && [...v].every((x) => typeof x === 'string')) out[k] = { set: [...v] };
  }
  return out;
}

export function restorePortableState(into: Map<string, unknown>, from: Record<string, unknown> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) {
    if (v !== null && typeof v === 'object') {
      const set = (v as { set?: unknown }).set;
      if (Array.isArray(set)) into.set(k, new Set(set.filter((x) => typeof x === 'string')));
    } else {
      into.set(k, v);
    }
  }
}
