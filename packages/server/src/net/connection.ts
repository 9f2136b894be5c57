// What a stream needs from a transport. TCP and direct TLS implement it here; WebSocket (RFC 7395) and
// BOSH (XEP-0206) implement the same interface with their own framing later.
import type { ChannelBindingType } from '../stream/sasl/types';

export interface ConnectionHandlers {
  onData(chunk: string): void;
  onClose(): void;
  /**
   * The peer stopped reading: more than the connection's send-buffer bound is waiting to be written. What had not
   * reached the socket yet was dropped; the stream should end now (its closing words still go out) rather than
   * keep queueing for a reader that is not there.
   */
  onSendBufferFull?(): void;
}

export interface Connection {
  readonly remoteAddress: string;
  /** Encrypted now (direct TLS, or after STARTTLS). */
  readonly secure: boolean;
  /** STARTTLS can be offered (a plain TCP socket and a certificate to offer). */
  readonly canStartTls: boolean;
  setHandlers(handlers: ConnectionHandlers): void;
  /** Queues data for the peer; past the send-buffer bound it is dropped and onSendBufferFull is called once. */
  write(data: string): void;
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
