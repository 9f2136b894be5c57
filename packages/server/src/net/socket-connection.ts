// A Connection over a net.Socket or tls.TLSSocket: a raw XML stream (RFC 6120 §4, stream/xml-stream.ts) with STARTTLS
// upgrade, whitespace keepalives, write batching (stanzas sent within one tick leave in one write: fewer syscalls
// under fan-out) and write backpressure: while the socket is above its high-water mark, output waits here for
// 'drain', and past a per-connection bound the peer is taken for one that stopped reading (RFC 6120 §4.9.3.4)
// instead of being buffered for without limit.
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type SecureContext } from 'node:tls';
import { StreamError } from '@parley/protocol';
import type { ChannelBindingType } from '../stream/sasl/types';
import { STREAM_CLOSE, XmlStreamFraming, streamHeader } from '../stream/xml-stream';
import type { Connection, FramedHandlers } from './connection';

export interface SocketConnectionLimits {
  /** Bytes waiting behind a socket the peer does not drain past which the peer is treated as not reading. */
  maxSendBuffer: number;
  /** STARTTLS: a handshake not finished by then fails, and the stream drops the connection. */
  tlsHandshakeTimeoutMs: number;
  /**
   * Server-to-server streams: on accepted connections, ask the peer for its certificate (RFC 6120 §13.7.2.1, for SASL
   * EXTERNAL) without refusing one that does not validate (dialback may still authenticate the peer). On connections
   * we opened, STARTTLS makes us the TLS client with these options (servername, CAs, our certificate).
   */
  s2s?: { requestCert: true } | { client: ConnectionOptions };
}

/** The peer's certificate after TLS, and whether it chains to a trusted CA (the name is checked by the caller). */
export interface TlsPeer {
  authorized: boolean;
  authorizationError: string | undefined;
  certificate: PeerCertificate | undefined;
}

/**
 * Once the bound is crossed, room for the stream's last words (a stream error and </stream:stream>), so a peer that
 * reads again learns why it was cut off; nothing past them is kept.
 */
const CLOSING_ALLOWANCE = 4096;

export class SocketConnection implements Connection {
  /** Plain TCP, after STARTTLS, or direct TLS (XEP-0368): `secure` tells which. */
  readonly transport = 'tcp';
  private socket: Socket;
  private handlers: FramedHandlers | undefined;
  private readonly framing: XmlStreamFraming;
  private decoder = utf8Decoder();
  /** The input stopped being UTF-8: nothing more is decoded or delivered. */
  private undecodable = false;
  private pending = '';
  /** UTF-8 length of `pending` (the socket's writableLength counts bytes too: it is only given Buffers). */
  private pendingBytes = 0;
  private flushScheduled = false;
  private drainAwaited = false;
  private drainWaitSince: number | undefined;
  private drainWaiters: (() => void)[] = [];
  /** The send buffer went past the bound once: from then on only the closing allowance is written. */
  private overflowed = false;
  private closed = false;
  /** STARTTLS as the server with a client certificate requested: OpenSSL's verdict on it (see startTls). */
  private serverSideVerification: { authorized: boolean; authorizationError: string | undefined } | undefined;
  readonly remoteAddress: string;
  lastActivity = Date.now();
  /** When something was last handed to this connection to write (keepalives are due after a quiet spell). */
  lastWrite = Date.now();
  /** Bytes read so far, after TLS (the s2s read budget charges what a peer sent). */
  bytesReceived = 0;

  constructor(
    socket: Socket,
    private readonly secureContext: SecureContext | undefined,
    maxStanzaSize: number,
    private readonly limits: SocketConnectionLimits,
  ) {
    this.socket = socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.framing = new XmlStreamFraming(() => this.handlers, maxStanzaSize);
    socket.setNoDelay(true);
    // XEP-0368 direct TLS accepted by hand (s2s): the handshake is over, its verdict on the peer's certificate is read now.
    if (socket instanceof TLSSocket && socket.encrypted && limits.s2s !== undefined && 'requestCert' in limits.s2s) {
      this.serverSideVerification = verifyClientCertificate(socket);
    }
    this.attach(socket);
  }

  /** The ALPN protocol agreed in the TLS handshake (XEP-0368: 'xmpp-server' / 'xmpp-client'), if any. */
  get alpnProtocol(): string | undefined {
    const s = this.socket;
    return s instanceof TLSSocket && typeof s.alpnProtocol === 'string' ? s.alpnProtocol : undefined;
  }

  /**
   * Milliseconds the socket has been full (the kernel's buffer too) without the peer taking anything: 0 unless a write
   * waits for 'drain'. A peer that stopped reading (hung, SIGSTOPped, gone without a reset) shows here.
   */
  get stalledMs(): number {
    return this.drainWaitSince === undefined || this.closed ? 0 : Date.now() - this.drainWaitSince;
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true;
  }

  get canStartTls(): boolean {
    return !this.secure && (this.secureContext !== undefined || (this.limits.s2s !== undefined && 'client' in this.limits.s2s));
  }

  /** The TLS peer's certificate and its validation, once encrypted. */
  tlsPeer(): TlsPeer | undefined {
    const s = this.socket;
    if (!(s instanceof TLSSocket) || !s.encrypted) return undefined;
    const cert = s.getPeerCertificate();
    const certificate = cert && Object.keys(cert).length > 0 ? cert : undefined;
    if (this.serverSideVerification !== undefined) return { ...this.serverSideVerification, certificate };
    const error = s.authorizationError as unknown;
    return { authorized: s.authorized, authorizationError: error === null || error === undefined ? undefined : String(error), certificate };
  }

  setHandlers(handlers: FramedHandlers): void {
    this.handlers = handlers;
  }

  private readonly onData = (buf: Buffer): void => {
    this.lastActivity = Date.now();
    this.bytesReceived += buf.length;
    if (this.undecodable) return;
    let text: string;
    try {
      // RFC 6120 §11.6: UTF-8 only. The streaming decoder keeps a sequence split across reads whole and throws on
      // anything ill-formed (stray and overlong bytes, surrogates, code points past U+10FFFF) rather than letting
      // U+FFFD through as text. The read that holds the bad bytes is dropped whole: the stream ends with it.
      text = this.decoder.decode(buf, { stream: true });
    } catch {
      return this.rejectEncoding();
    }
    if (text.length > 0) this.framing.write(text);
  };

  /** The peer sent its last byte (FIN): a sequence it left unfinished is ill-formed too, said while we can still write. */
  private readonly onEnd = (): void => {
    if (this.undecodable) return;
    try {
      this.decoder.decode();
    } catch {
      this.rejectEncoding();
    }
  };

  // RFC 6120 §4.9.3.22: the condition for input that breaks the UTF-8 rules.
  private rejectEncoding(): void {
    this.undecodable = true;
    this.handlers?.onError(new StreamError('unsupported-encoding', 'the stream is not valid UTF-8'));
  }

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.pending = '';
    this.pendingBytes = 0;
    this.settleDrainWaiters();
    this.handlers?.onTransportClosed();
  };

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', () => socket.destroy());
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

  // RFC 6120 §4.6.1: a single space between stanzas keeps NATs and proxies from dropping an idle connection.
  keepalive(): void {
    this.write(' ');
  }

  compact(): void {
    this.framing.release();
  }

  /** Bytes written by the stream that the peer has not taken yet: queued here, or held by the socket (not the kernel). */
  get bufferedBytes(): number {
    return this.pendingBytes + this.socket.writableLength;
  }

  /** Resolves once nothing waits here or in the socket above its high-water mark, or the connection is gone. */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private isDrained(): boolean {
    return this.closed || (this.pendingBytes === 0 && !this.socket.writableNeedDrain);
  }

  private settleDrainWaiters(): void {
    if (this.drainWaiters.length === 0 || !this.isDrained()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private write(data: string): void {
    if (this.closed) return;
    this.lastWrite = Date.now();
    const bytes = Buffer.byteLength(data);
    if (this.overflowed) {
      if (this.pendingBytes + bytes > CLOSING_ALLOWANCE) return;
    } else if (this.pendingBytes > this.limits.maxSendBuffer && this.socket.writableNeedDrain) {
      // More than the bound waits behind a socket the peer has not drained. Not what was handed to the socket in
      // one batch: a burst the server produced at once (offline messages at login) goes out to a client that reads.
      // Checked before adding, so one stanza larger than the bound still goes out, and what waits here never passes
      // the bound by more than one write; the socket holds at most one earlier batch (flush waits for 'drain').
      this.overflowed = true;
      // What never reached the socket is dropped at once: the peer would see it only if it read again, and
      // XEP-0198 accounts for stanzas lost with a connection (the stream's session treats this as a lost one).
      this.pending = '';
      this.pendingBytes = 0;
      if (this.handlers?.onSendBufferFull) this.handlers.onSendBufferFull();
      else this.destroy();
      return;
    }
    this.pending += data;
    this.pendingBytes += bytes;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closed) return;
    // Backpressure: while the socket is above its high-water mark, output waits in `pending` (counted toward the
    // bound) and leaves in one write on 'drain'.
    if (this.socket.writableNeedDrain) return this.awaitDrain();
    this.writePending();
  };

  private writePending(): void {
    if (this.pending.length === 0) return;
    // A Buffer, so that the socket's writableLength is in bytes (strings are counted in UTF-16 code units).
    const data = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    this.pendingBytes = 0;
    if (!this.socket.write(data)) this.awaitDrain();
    else this.settleDrainWaiters();
  }

  private awaitDrain(): void {
    if (this.drainAwaited) return;
    this.drainAwaited = true;
    this.drainWaitSince = Date.now();
    this.socket.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    this.drainAwaited = false;
    this.drainWaitSince = undefined;
    this.flush();
    this.settleDrainWaiters();
  };

  async startTls(): Promise<void> {
    const s2s = this.limits.s2s;
    const client = s2s !== undefined && 'client' in s2s ? s2s.client : undefined;
    if (!this.secureContext && !client) throw new Error('no TLS certificate configured');
    // <proceed/> goes out in clear before the handshake, whatever the socket's buffer holds (RFC 6120 §5.4.3.3).
    this.writePending();
    const raw = this.socket;
    raw.off('data', this.onData);
    raw.off('end', this.onEnd);
    raw.off('close', this.onClose);
    raw.off('drain', this.onDrain);
    this.drainAwaited = false;
    this.drainWaitSince = undefined;
    raw.removeAllListeners('error');
    this.decoder = utf8Decoder();
    // RFC 6120 §5.4.3.3: both sides start afresh after TLS; nothing from before is kept.
    this.framing.restart();
    const tlsSocket = client
      ? tlsConnect({ ...client, socket: raw })
      : new TLSSocket(raw, { isServer: true, secureContext: this.secureContext, ...(s2s ? { requestCert: true, rejectUnauthorized: false } : {}) });
    this.socket = tlsSocket;
    this.attach(tlsSocket);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        tlsSocket.once(client ? 'secureConnect' : 'secure', () => {
          if (!client && s2s) this.serverSideVerification = verifyClientCertificate(tlsSocket);
          resolve();
        });
        tlsSocket.once('error', reject);
        tlsSocket.once('close', () => reject(new Error('closed during TLS handshake')));
        // A client that asked for TLS and never completes the handshake holds a connection slot: not for long.
        timer = setTimeout(() => reject(new Error('TLS handshake timed out')), this.limits.tlsHandshakeTimeoutMs);
      });
    } finally {
      clearTimeout(timer);
    }
  }

  channelBinding(type: ChannelBindingType): Buffer | undefined {
    return tlsChannelBinding(this.socket, type);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    // The last words go to the socket even above its high-water mark: end() flushes them after what it holds.
    if (!this.closed) this.writePending();
    this.socket.end();
    // A peer that never answers our close must not hold the socket forever (RFC 6120 §4.4).
    setTimeout(() => this.destroy(), 5000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.onClose();
  }
}

/**
 * The verification of a client certificate on a TLSSocket we made the server side of (STARTTLS). A tls.Server sets
 * `authorized` from OpenSSL's verification result; a TLSSocket wrapped by hand never does, so the same result is read
 * the way tls.Server reads it. COMPAT(node): `_handle.verifyError()` is internal but has been stable since Node 0.x;
 * without it the certificate counts as not validated (dialback still works, EXTERNAL is not offered).
 */
function verifyClientCertificate(s: TLSSocket): { authorized: boolean; authorizationError: string | undefined } {
  const handle = (s as unknown as { _handle?: { verifyError?(): (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return { authorized: false, authorizationError: 'certificate verification unavailable' };
  if (!s.getPeerCertificate() || Object.keys(s.getPeerCertificate()).length === 0) return { authorized: false, authorizationError: 'no certificate' };
  const err = handle.verifyError();
  return err ? { authorized: false, authorizationError: err.code ?? err.message } : { authorized: true, authorizationError: undefined };
}

function utf8Decoder() {
  return new TextDecoder('utf-8', { fatal: true });
}

export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Channel binding data of a TLS socket (RFC 9266, RFC 5929), or undefined when it cannot provide `type`. */
export function tlsChannelBinding(s: Socket, type: ChannelBindingType): Buffer | undefined {
  if (!(s instanceof TLSSocket) || !s.encrypted) return undefined;
  const protocol = s.getProtocol();
  if (type === 'tls-exporter') {
    // RFC 9266: defined for TLS 1.3 only.
    if (protocol !== 'TLSv1.3') return undefined;
    return s.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  }
  if (type === 'tls-server-end-point') {
    // RFC 5929 §4.1: hash of our certificate; MD5 and SHA-1 signatures are upgraded to SHA-256.
    const cert = s.getCertificate();
    if (!cert || !('raw' in cert)) return undefined;
    return createHash('sha256').update(cert.raw).digest();
  }
  if (type === 'tls-unique') {
    if (protocol === 'TLSv1.3') return undefined;
    return s.getFinished() ?? undefined;
  }
  return undefined;
}
