// A Connection without sockets (STYLE.md habit 9, as aedes tests its protocol over in-memory pairs): a test writes
// the client's side of a raw XML stream with receive() and reads what the server wrote from `output`. The framing is
// the TCP one (stream/xml-stream.ts), so a stream behaves here exactly as on a socket.
import type { ChannelBindingType } from '../stream/sasl/types';
import { STREAM_CLOSE, XmlStreamFraming, streamHeader } from '../stream/xml-stream';
import type { Connection, FramedHandlers } from './connection';

export class MemoryConnection implements Connection {
  /** Everything the server wrote, in order. */
  output = '';
  /** The server ended (end()) or dropped (destroy()) the connection. */
  ended = false;
  paused = false;
  lastActivity = Date.now();
  readonly bufferedBytes = 0;
  readonly canStartTls = false;
  /** The TCP framing, without the socket. */
  readonly transport = 'tcp';
  private handlers: FramedHandlers | undefined;
  private readonly framing: XmlStreamFraming;
  private closed = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    readonly remoteAddress = '127.0.0.1',
    readonly secure = true,
    maxStanzaSize = 262_144,
  ) {
    this.framing = new XmlStreamFraming(() => this.handlers, maxStanzaSize);
  }

  setHandlers(handlers: FramedHandlers): void {
    this.handlers = handlers;
  }

  /** The client sends `text`. */
  receive(text: string): void {
    this.lastActivity = Date.now();
    this.framing.write(text);
  }

  /** The client's side goes away without closing its stream. */
  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.ended = true;
    this.handlers?.onTransportClosed();
  }

  /** Resolves once `output` matches, on a later turn of the event loop (as a client would read it). */
  waitFor(pattern: RegExp | string, timeoutMs = 2000): Promise<string> {
    const test = (): boolean => (typeof pattern === 'string' ? this.output.includes(pattern) : pattern.test(this.output));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${String(pattern)}; got: ${this.output}`)), timeoutMs);
      const check = (): void => {
        if (!test()) return void this.waiters.push(check);
        clearTimeout(timer);
        resolve(this.output);
      };
      setImmediate(check);
    });
  }

  // Seen by the client on the next turn of the event loop, as a socket's batched write is.
  private write(text: string): void {
    if (this.closed) return;
    this.output += text;
    setImmediate(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  openStream(attrs: Record<string, string | undefined>, contentNamespace: string): void {
    this.write(streamHeader(attrs, contentNamespace));
  }

  send(xmlText: string): void {
    this.write(xmlText);
  }

  closeStream(): void {
    this.write(STREAM_CLOSE);
  }

  restartStream(): void {
    this.framing.restart();
  }

  startTls(): Promise<void> {
    return Promise.reject(new Error('no TLS in memory'));
  }

  channelBinding(_type: ChannelBindingType): Buffer | undefined {
    return undefined;
  }

  keepalive(): void {
    this.write(' ');
  }

  compact(): void {
    this.framing.release();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  end(): void {
    if (this.closed) return;
    this.ended = this.closed = true;
    // As a socket's 'close' follows its end: the transport is gone once the caller's work is done.
    queueMicrotask(() => this.handlers?.onTransportClosed());
  }

  destroy(): void {
    this.end();
  }
}
