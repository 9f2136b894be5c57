// Archive writes (XEP-0313 user and room archives, XEP-0160 offline messages) for a SQLite file, committed by a
// worker thread with its own connection (sqlite-archive-writer.worker.mjs) so that the inserts — two per archived
// one-to-one message, ~40 µs of CPU each here with the archive's three indexes — run beside the event loop
// instead of on it. WAL mode lets the main connection read while the worker writes.
//
// Ordering and visibility:
// - every archive write (append, replace, delete) goes through here, in call order, so they commit in that order;
// - writes issued in one tick are posted as one batch; batches that queue up while the worker commits are
//   committed together in one transaction (group commit, as sqlite.ts does for the other shapes);
// - a write's promise resolves only after its transaction committed (durable against kill -9, see sqlite.ts);
// - settled() resolves once every write issued before it has committed: archive reads call it first, so a query
//   sees every message archived before it (read-your-writes), and XEP-0198 acknowledgements wait for it.
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { StorageError } from './errors';

// A batch's `ops` is a flat array of seven values per write (the worker's OP_STRIDE): kind, store, owner, then
// append: id, when, with, payload; replace: id, payload; delete: ids as JSON or null, before or null.
const APPEND = 0;
const APPEND_NEW_ID = 1;
const REPLACE = 2;
const DELETE = 3;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface BatchReply {
  seq: number;
  results?: (string | number | null)[];
  errors?: [number, string | null, string][];
  failed?: { code: string | null; message: string };
  closed?: true;
}

export class SqliteArchiveWriter {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** Writes of this tick, not posted yet. */
  private ops: unknown[] = [];
  private opWaiters: Pending[] = [];
  private flushScheduled = false;
  private nextSeq = 1;
  /** Posted batches whose commit has not been reported yet, by seq, in posting order. */
  private readonly inFlight = new Map<number, Pending[]>();
  /** settled() callers, each waiting for the batch with this seq (and so every earlier one). */
  private barriers: { seq: number; resolve: () => void }[] = [];
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;

  /** False once the thread has died: the storage then writes the archive on its own connection again. */
  get usable(): boolean {
    return this.broken === undefined;
  }

  constructor(
    path: string,
    busyTimeoutMs: number,
    private readonly onFailure: (error: Error) => void,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./sqlite-archive-writer.worker.mjs', import.meta.url), {
      workerData: { path, busyTimeoutMs, port: port2 },
      transferList: [port2],
      // Plain JavaScript: none of the parent's flags (tsx's --import, --input-type, --cpu-prof) apply.
      execArgv: [],
    });
    this.port.on('message', (reply: BatchReply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the archive writer thread exited (${code})`)));
    // Neither keeps the process alive while nothing is in flight; refIfBusy() holds it while a write waits.
    this.worker.unref();
    this.port.unref();
  }

  append(store: string, owner: string, id: string, generatedId: boolean, when: number, withJid: string | null, payload: string): Promise<string> {
    return this.submit(generatedId ? APPEND_NEW_ID : APPEND, store, owner, id, when, withJid, payload) as Promise<string>;
  }

  replace(store: string, owner: string, id: string, payload: string): Promise<number> {
    return this.submit(REPLACE, store, owner, id, payload, null, null) as Promise<number>;
  }

  delete(store: string, owner: string, idsJson: string | null, before: number | null): Promise<number> {
    return this.submit(DELETE, store, owner, idsJson, before, null, null) as Promise<number>;
  }

  /** Resolves once every write issued before this call has committed (or failed). */
  settled(): Promise<void> {
    if (this.ops.length > 0) this.flush();
    const last = this.nextSeq - 1;
    if (!this.inFlight.has(last)) return Promise.resolve();
    return new Promise((resolve) => this.barriers.push({ seq: last, resolve }));
  }

  /** Commits what is pending, then stops the thread (which closes its connection). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.settled();
      if (this.broken) return;
      const closed = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      // Held until the thread has exited: its end of the port closes first, which would let the process end early.
      this.worker.ref();
      this.port.postMessage({ close: true });
      await closed;
      this.port.close();
    })();
    return this.closing;
  }

  private submit(kind: number, store: string, owner: string, a: unknown, b: unknown, c: unknown, d: unknown): Promise<unknown> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error('storage is closed'));
    this.ops.push(kind, store, owner, a, b, c, d); // seven per write, as the worker reads them
    const done = new Promise<unknown>((resolve, reject) => this.opWaiters.push({ resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.ops.length === 0 || this.broken) return;
    const seq = this.nextSeq++;
    this.inFlight.set(seq, this.opWaiters);
    // A flat array of strings and numbers: the cheapest shape for structured cloning.
    this.port.postMessage({ seq, ops: this.ops });
    this.ops = [];
    this.opWaiters = [];
    this.refIfBusy();
  }

  private settle(reply: BatchReply): void {
    if (reply.closed) return;
    const waiters = this.inFlight.get(reply.seq);
    this.inFlight.delete(reply.seq);
    if (waiters) {
      if (reply.failed) {
        const error = Object.assign(new Error(`archive write failed: ${reply.failed.message}`), { code: reply.failed.code });
        for (const w of waiters) w.reject(error);
      } else {
        const failedAt = new Map((reply.errors ?? []).map(([i, code, message]) => [i, { code, message }]));
        waiters.forEach((w, i) => {
          const error = failedAt.get(i);
          if (error === undefined) w.resolve(reply.results![i]);
          else if (error.code === 'conflict') w.reject(new StorageError('conflict', error.message));
          else w.reject(Object.assign(new Error(error.message), { code: error.code }));
        });
      }
    }
    this.barriers = this.barriers.filter((b) => {
      if (b.seq > reply.seq) return true;
      b.resolve();
      return false;
    });
    this.refIfBusy();
  }

  /** The thread died: the writes waiting for it fail (their callers log them); later ones are not sent here. */
  private fail(error: Error): void {
    if (this.broken) return;
    if (this.closing && this.inFlight.size === 0) return;
    this.broken = error;
    this.onFailure(error);
    for (const waiters of this.inFlight.values()) for (const w of waiters) w.reject(error);
    this.inFlight.clear();
    for (const w of this.opWaiters) w.reject(error);
    this.ops = [];
    this.opWaiters = [];
    for (const b of this.barriers) b.resolve();
    this.barriers = [];
  }

  private refIfBusy(): void {
    if (this.inFlight.size > 0) this.port.ref();
    else this.port.unref();
  }
}
