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
}
