// The cluster bus over Redis pub/sub: one connection publishes, one subscribes (a subscribed Redis connection
// can do nothing else). Messages published in one tick to one channel travel as one PUBLISH: at tens of
// thousands of stanzas a second, per-message round trips would cost Redis and both nodes more than the routing.
import { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { Bus } from './types';

/** Separates batched messages; JSON text never contains a raw newline. */
const SEPARATOR = '\n';

export class RedisBus implements Bus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, (payload: string) => void>();
  private readonly pending = new Map<string, string[]>();
  private flushScheduled = false;
  private closed = false;
  private readyOnce = false;
  private reconnected: (() => void) | undefined;

  constructor(url: string, private readonly log: Logger) {
    const options = { lazyConnect: true, maxRetriesPerRequest: null, enableOfflineQueue: true };
    this.pub = new Redis(url, options);
    this.sub = new Redis(url, options);
    for (const [name, conn] of [['publish', this.pub], ['subscribe', this.sub]] as const) {
      // ioredis reconnects by itself; errors are reported, never thrown at the event loop.
      conn.on('error', (err: Error) => {
        if (!this.closed) this.log.warn({ err: err.message, connection: name }, 'cluster bus: Redis connection error');
      });
    }
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

  publish(channel: string, payload: string): void {
    let batch = this.pending.get(channel);
    if (!batch) this.pending.set(channel, (batch = []));
    batch.push(payload);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    for (const [channel, batch] of this.pending) {
      this.pub.publish(channel, batch.join(SEPARATOR)).catch((err: Error) => {
        this.log.warn({ err: err.message, channel }, 'cluster bus: publish failed');
      });
    }
    this.pending.clear();
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
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
