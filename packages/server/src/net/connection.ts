// What a stream needs from a transport. TCP and direct TLS implement it here; WebSocket (RFC 7395) and
// BOSH (XEP-0206) implement the same interface with their own framing later.
import type { ChannelBindingType } from '../stream/sasl/types';

export interface ConnectionHandlers {
  onData(chunk: string): void;
  /**
   * RFC 6120 §11.6: the peer sent bytes that are not UTF-8, or ended its input inside a sequence; nothing from that
   * read on is delivered. The stream answers with <unsupported-encoding/> (§4.9.3.22).
   */
  onInvalidEncoding(): void;
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
