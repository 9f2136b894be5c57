// What a stream needs from a transport. The transport owns its framing (STYLE.md "How a stanza flows"): it turns
// bytes into stream open / element / close events and writes our header, elements and close in its own form —
// TCP and direct TLS as one raw XML stream (RFC 6120 §4), WebSocket as one framed element per message (RFC 7395),
// BOSH (XEP-0206) inside <body/> wrappers. Keepalives and the activity clock are the transport's too: whitespace
// on TCP, ping frames on WebSocket, BOSH's own request timing. The stream machine (stream/stream-machine.ts)
// sees only these events and calls.
import type { Attrs, StreamError, XmlElement } from '@parley/protocol';
import type { SessionTransport } from '../core/sessions';
import type { ChannelBindingType } from '../stream/sasl/types';

/** A stream header as the peer sent it, after the transport checked its framing. */
export interface StreamHeader {
  /** The header's attributes: to, from, version, xml:lang, id. */
  attrs: Attrs;
  /**
   * The default namespace the header declared for the stream's content (RFC 6120 §4.8.2: jabber:client for a
   * client stream), when the framing declares one (a prefixed <stream:stream>); undefined otherwise.
   */
  contentNamespace?: string;
  /** The framing is wrong (RFC 6120 §4.8.1 invalid-namespace); the machine answers with its header, then this. */
  error?: StreamError;
}

export interface FramedHandlers {
  /** The peer opened (or restarted) its stream. */
  onOpen(header: StreamHeader): void;
  /** A complete top-level element: a stanza or a negotiation element, with its namespace declarations. */
  onElement(el: XmlElement): void;
  /** The peer closed its stream (</stream:stream>, RFC 7395 <close/>). */
  onClose(): void;
  /** The input broke the framing or the limits; nothing more comes from this stream. */
  onError(error: StreamError): void;
  /** The transport is gone (socket closed, WebSocket closed, BOSH session timed out). */
  onTransportClosed(): void;
  /**
   * The peer stopped reading: more than the connection's send-buffer bound is waiting to be written. What had not
   * reached the socket yet was dropped; the stream should end now (its closing words still go out) rather than
   * keep queueing for a reader that is not there.
   */
  onSendBufferFull?(): void;
}

export interface Connection {
  /** Which framing this is, for operators (`parley status`, the parley_sessions metric). */
  readonly transport: SessionTransport;
  readonly remoteAddress: string;
  /** Encrypted now (direct TLS, HTTPS, or after STARTTLS). */
  readonly secure: boolean;
  /** STARTTLS can be offered (a plain TCP socket and a certificate to offer). */
  readonly canStartTls: boolean;
  /** When the peer last sent anything, keepalive answers included (ms since the epoch). */
  readonly lastActivity: number;
  /** Bytes written but not yet taken by the network: what a bounded send buffer measures. */
  readonly bufferedBytes: number;
  setHandlers(handlers: FramedHandlers): void;
  /** Writes our stream header (RFC 6120 §4.7) in the transport's framing; `contentNamespace` is jabber:client for c2s. */
  openStream(attrs: Record<string, string | undefined>, contentNamespace: string): void;
  /** Writes one serialised top-level element (a stanza, features, an error, a negotiation element). */
  send(xmlText: string): void;
  /** Writes the closing of our stream (</stream:stream>, RFC 7395 <close/>). */
  closeStream(): void;
  /**
   * RFC 6120 §4.3.3: the stream restarts (after SASL success); the framing expects a new header and forgets the
   * rest of the old stream.
   */
  restartStream(): void;
  /**
   * Resolves once what was written so far has been handed to the network (the transport's buffer drained), or
   * at once when the connection is closed. Optional: a transport without write backpressure leaves it out, and
   * callers then only yield to the event loop between writes.
   */
  drained?(): Promise<void>;
  /** RFC 6120 §5.4.3.3: upgrade in place after <proceed/>; data then flows over TLS, on a restarted stream. */
  startTls(): Promise<void>;
  channelBinding(type: ChannelBindingType): Buffer | undefined;
  /** RFC 6120 §4.6.1 whitespace, a WebSocket ping frame: keeps an idle connection open and proves the peer alive. */
  keepalive(): void;
  /** Frees parse buffers of an idle peer (rebuilt on its next byte). */
  compact(): void;
  pause(): void;
  resume(): void;
  /** Flushes and closes; the peer gets a moment to close its side. */
  end(): void;
  /** Drops the connection at once. */
  destroy(): void;
}
