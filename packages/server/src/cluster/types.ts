// What the rest of the server sees of a cluster (STYLE.md layout: cluster/ holds the Bus and the session
// directory). One node alone uses LocalCluster; several nodes serving one domain (worker processes behind one
// listener, or machines) use ClusterNode over a real shared bus (Redis pub/sub), never one of our own.
import type { Disposable } from '../core/hooks';

export interface Cluster {
  /** This node's name; unique among the nodes serving the domain. */
  readonly nodeId: string;
  /** True when other nodes may exist (caches must then be invalidated across nodes). */
  readonly enabled: boolean;
  /**
   * Tells the other nodes that what a cache named `topic` holds for `key` changed (a roster, a block list, a
   * pubsub service): they drop their copy and read storage again on next use. Storage is shared; caches are not.
   */
  invalidate(topic: string, key: string): void;
  /** Called when another node invalidated `key` of cache `topic`. */
  onInvalidate(topic: string, fn: (key: string) => void): Disposable;
  /** Resolves when the bus between the nodes answers (at once without a cluster), rejects otherwise. */
  pingBus(): Promise<void>;
  /** Nodes heard from recently, this one included, sorted. */
  liveNodes(): string[];
  isLive(node: string): boolean;
  /**
   * The live node that handles `key` (rendezvous hashing over the live nodes): every node computes the same one,
   * and when that node dies, its keys go to the survivors (a dead node's leftovers, a room).
   */
  ownerAmongLive(key: string): string;
  /** Whether this node serves `key` (a room's bare JID, a service's domain) now: rendezvous over the live members. */
  serves(key: string): boolean;
  /**
   * Asks `node` a question a module answers there with answer(topic): resolves with its answer, rejects when
   * the node is not live, no handler answers, or no answer comes within `timeoutMs`.
   */
  ask(node: string, topic: string, payload: unknown, timeoutMs?: number): Promise<unknown>;
  answer(topic: string, fn: (payload: unknown, from: string) => Promise<unknown>): Disposable;
  /**
   * Called when a node joins (live: true) or leaves or is declared dead (heartbeat silence; after its sessions
   * left the directory): what each node serves may have moved.
   */
  onNodesChanged(fn: (node: string, live: boolean) => void): Disposable;
}

/**
 * A publish/subscribe transport between the nodes of one domain. Messages on one channel from one publisher
 * arrive in the order they were published (Redis guarantees this per connection).
 */
export interface Bus {
  publish(channel: string, payload: string): void;
  subscribe(channel: string, handler: (payload: string) => void): Promise<void>;
  /** Called after the connection to the bus came back: messages may have been lost meanwhile. */
  onReconnect?(fn: () => void): void;
  /** Resolves when the bus answers now (a round trip), rejects otherwise. */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

/** The node that stays alone: nothing to tell anybody. */
export class LocalCluster implements Cluster {
  readonly enabled = false;
  constructor(readonly nodeId = 'local') {}
  invalidate(): void {}
  onInvalidate(): Disposable {
    return { dispose() {} };
  }
  liveNodes(): string[] {
    return [this.nodeId];
  }
  pingBus(): Promise<void> {
    return Promise.resolve();
  }
  isLive(node: string): boolean {
    return node === this.nodeId;
  }
  ownerAmongLive(): string {
    return this.nodeId;
  }
  serves(): boolean {
    return true;
  }
  ask(node: string): Promise<unknown> {
    return Promise.reject(new Error(`no cluster: node ${node} cannot be asked`));
  }
  answer(): Disposable {
    return { dispose() {} };
  }
  onNodesChanged(): Disposable {
    return { dispose() {} };
  }
}

/** FNV-1a, 32 bits: fast and well spread for short keys. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Rendezvous (highest random weight) hashing: the member that wins `key`; adding a member moves only the keys it wins. */
export function rendezvous(members: readonly string[], key: string): string {
  let owner = members[0]!;
  let best = -1;
  for (const m of members) {
    const score = fnv1a(`${m}\u0000${key}`);
    if (score > best) {
      best = score;
      owner = m;
    }
  }
  return owner;
}
