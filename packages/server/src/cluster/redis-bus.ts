// The cluster bus over Redis pub/sub: one connection publishes, one subscribes (a subscribed Redis connection
// can do nothing else). Messages published in one tick to one channel travel as one PUBLISH: at tens of
// thousands of stanzas a second, per-message round trips would cost Redis and both nodes more than the routing.
// While Redis is unreachable (or takes writes more slowly than we publish), messages wait in our own queue,
// bounded in bytes (cluster.redis_queue_bytes): ioredis's offline queue has no limit, so it is turned off, and a
// node cut off from Redis for a while would otherwise keep every stanza routed to other nodes in memory. Past the
// bound, new messages are dropped and the loss is logged; the bus never promised delivery across an outage (see
// onReconnect), and the nodes resynchronise when Redis is back.
import { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { Bus } from './types';

/** Separates batched messages; JSON text never contains a raw newline. */
const SEPARATOR = '\n';

export interface RedisBusOptions {
  /** Bytes of messages kept while they cannot be handed to Redis; 0 drops them at once. */
  maxQueuedBytes: number;
}

export class RedisBus implements Bus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, (payload: string) => void>();
  private readonly pending = new Map<string, string[]>();
  /** UTF-8 bytes in `pending`, each message counted with its separator. */
  private pendingBytes = 0;
  /** Messages dropped since the queue last had room, reported once it has again. */
  private dropped = 0;
  private flushScheduled = false;
  private closed = false;
  private readyOnce = false;
  private reconnected: (() => void) | undefined;
  private readonly maxQueuedBytes: number;

  constructor(url: string, private readonly log: Logger, options: RedisBusOptions = { maxQueuedBytes: 16 * 1024 * 1024 }) {
    this.maxQueuedBytes = options.maxQueuedBytes;
    // No ioredis offline queue (unbounded), and commands in flight when a connection drops are not queued again
    // for the next one: what is not written now waits in `pending`, which is bounded.
    const connection = { lazyConnect: true, maxRetriesPerRequest: null, enableOfflineQueue: false, autoResendUnfulfilledCommands: false };
    this.pub = new Redis(url, connection);
    // The subscriber's commands are sent only once it is ready (subscribe after connect; ioredis resubscribes itself).
    this.sub = new Redis(url, connection);
    for (const [name, conn] of [['publish', this.pub], ['subscribe', this.sub]] as const) {
      // ioredis reconnects by itself; errors are reported, never thrown at the event loop.
      conn.on('error', (err: Error) => {
        if (!this.closed) this.log.warn({ err: err.message, connection: name }, 'cluster bus: Redis connection error');
      });
    }
    // What waited while the publishing connection was down goes out as soon as it is back.
    this.pub.on('ready', () => this.scheduleFlush());
    // ioredis resubscribes by itself after a reconnect; what was published meanwhile is lost, so say so.
    this.sub.on('ready', () => {
      if (this.readyOnce && !this.closed) this.reconnected?.();
      this.readyOnce = true;
    });
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const handler = this.handlers.get(channel.toString());
      if (!handler) return;
      const text = message.toString();
      let start = 0;
      for (;;) {
        const end = text.indexOf(SEPARATOR, start);
        handler(end === -1 ? text.slice(start) : text.slice(start, end));
        if (end === -1) break;
        start = end + 1;
      }
    });
  }

  async connect(): Promise<void> {
    await Promise.all([this.pub.connect(), this.sub.connect()]);
  }

  /** Bytes of messages waiting to be handed to Redis (bounded by maxQueuedBytes). */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Both connections are up and Redis answers a PING (no offline queue: a down connection fails at once). */
  async ping(): Promise<void> {
    if (this.sub.status !== 'ready') throw new Error(`the subscribing Redis connection is ${this.sub.status}`);
    await this.pub.ping();
  }

  publish(channel: string, payload: string): void {
    if (this.closed) return;
    const size = Buffer.byteLength(payload, 'utf8') + 1;
    if (this.pendingBytes + size > this.maxQueuedBytes) {
      if (this.dropped++ === 0) {
        this.log.warn({ queuedBytes: this.pendingBytes, status: this.pub.status }, 'cluster bus: Redis is not taking messages and the queue is full: dropping');
      }
      return;
    }
    let batch = this.pending.get(channel);
    if (!batch) this.pending.set(channel, (batch = []));
    batch.push(payload);
    this.pendingBytes += size;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Whether Redis takes writes now: connected, and the socket not holding more than the queue bound already. */
  private canWrite(): boolean {
    return this.pub.status === 'ready' && (this.pub.stream?.writableLength ?? 0) <= this.maxQueuedBytes;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.size === 0) return;
    if (!this.canWrite()) {
      // Kept for when the connection is back ('ready'), or retried shortly when only the socket was full.
      if (this.pub.status === 'ready') setTimeout(() => this.scheduleFlush(), 50).unref();
      return;
    }
    for (const [channel, batch] of this.pending) {
      this.pub.publish(channel, batch.join(SEPARATOR)).catch((err: Error) => {
        this.log.warn({ err: err.message, channel }, 'cluster bus: publish failed');
      });
    }
    this.pending.clear();
    this.pendingBytes = 0;
    if (this.dropped > 0) {
      this.log.warn({ dropped: this.dropped }, 'cluster bus: messages were dropped while Redis was not taking them');
      this.dropped = 0;
    }
  }

  onReconnect(fn: () => void): void {
    this.reconnected = fn;
  }

  async subscribe(channel: string, handler: (payload: string) => void): Promise<void> {
    this.handlers.set(channel, handler);
    await this.sub.subscribe(channel);
  }

  async close(): Promise<void> {
    this.flush();
    this.closed = true;
    // QUIT needs a connection; one that is (re)connecting is told to stop retrying instead.
    await Promise.allSettled(
      [this.pub, this.sub].map(async (conn) => {
        if (conn.status === 'ready') await conn.quit();
        else conn.disconnect();
      }),
    );
  }
}
