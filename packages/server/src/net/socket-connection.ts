// A Connection over a net.Socket or tls.TLSSocket: a raw XML stream (RFC 6120 §4, stream/xml-stream.ts) with STARTTLS
// upgrade, whitespace keepalives, and write batching: stanzas sent within one tick leave in one write (fewer syscalls
// under fan-out).
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { ChannelBindingType } from '../stream/sasl/types';
import { STREAM_CLOSE, XmlStreamFraming, streamHeader } from '../stream/xml-stream';
import type { Connection, FramedHandlers } from './connection';

export class SocketConnection implements Connection {
  private socket: Socket;
  private handlers: FramedHandlers | undefined;
  private readonly framing: XmlStreamFraming;
  private decoder = new TextDecoder('utf-8', { fatal: false });
  private pending = '';
  private flushScheduled = false;
  private closed = false;
  readonly remoteAddress: string;
  lastActivity = Date.now();

  constructor(
    socket: Socket,
    private readonly secureContext: SecureContext | undefined,
    maxStanzaSize: number,
  ) {
    this.socket = socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.framing = new XmlStreamFraming(() => this.handlers, maxStanzaSize);
    socket.setNoDelay(true);
    this.attach(socket);
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true;
  }

  get canStartTls(): boolean {
    return !this.secure && this.secureContext !== undefined;
  }

  get bufferedBytes(): number {
    return this.pending.length + this.socket.writableLength;
  }

  setHandlers(handlers: FramedHandlers): void {
    this.handlers = handlers;
  }

  private readonly onData = (buf: Buffer): void => {
    this.lastActivity = Date.now();
    // RFC 6120 §11.6: UTF-8 only; invalid sequences become U+FFFD and the parser sees them as text.
    const text = this.decoder.decode(buf, { stream: true });
    if (text.length > 0) this.framing.write(text);
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.onTransportClosed();
  };

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
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

  private write(data: string): void {
    if (this.closed) return;
    this.pending += data;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.closed) return;
    const data = this.pending;
    this.pending = '';
    this.socket.write(data);
  };

  async startTls(): Promise<void> {
    if (!this.secureContext) throw new Error('no TLS certificate configured');
    this.flush();
    const raw = this.socket;
    raw.off('data', this.onData);
    raw.off('close', this.onClose);
    raw.removeAllListeners('error');
    this.decoder = new TextDecoder('utf-8', { fatal: false });
    // RFC 6120 §5.4.3.3: both sides start afresh after TLS; nothing from before is kept.
    this.framing.restart();
    const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext: this.secureContext });
    this.socket = tlsSocket;
    this.attach(tlsSocket);
    await new Promise<void>((resolve, reject) => {
      tlsSocket.once('secure', () => resolve());
      tlsSocket.once('error', reject);
      tlsSocket.once('close', () => reject(new Error('closed during TLS handshake')));
    });
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
    this.flush();
    this.socket.end();
    // A peer that never answers our close must not hold the socket forever (RFC 6120 §4.4).
    setTimeout(() => this.destroy(), 5000).unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.onClose();
  }
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
