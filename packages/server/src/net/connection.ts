// What a stream needs from a transport. TCP and direct TLS implement it here; WebSocket (RFC 7395) and
// BOSH (XEP-0206) implement the same interface with their own framing later.
import type { ChannelBindingType } from '../stream/sasl/types';

export interface ConnectionHandlers {
  onData(chunk: string): void;
  onClose(): void;
}

export interface Connection {
  readonly remoteAddress: string;
  /** Encrypted now (direct TLS, or after STARTTLS). */
  readonly secure: boolean;
  /** STARTTLS can be offered (a plain TCP socket and a certificate to offer). */
  readonly canStartTls: boolean;
  setHandlers(handlers: ConnectionHandlers): void;
  write(data: string): void;
  /**
   * Resolves once what was written so far has been handed to the network (the transport's buffer drained), or
   * at once when the connection is closed. Optional: a transport without write backpressure leaves it out, and
   * callers then only yield to the event loop between writes.
   */
  drained?(): Promise<void>;
  /** RFC 6120 §5.4.3.3: upgrade in place after <proceed/>; data then flows over TLS. */
  startTls(): Promise<void>;
  channelBinding(type: ChannelBindingType): Buffer | undefined;
  pause(): void;
  resume(): void;
  /** Flushes and half-closes. */
  end(): void;
  /** Drops the connection at once. */
  destroy(): void;
}
