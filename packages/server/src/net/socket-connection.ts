// A Connection over a net.Socket or tls.TLSSocket, with STARTTLS upgrade and write batching: stanzas sent
// within one tick leave in one write (fewer syscalls under fan-out).
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { ChannelBindingType } from '../stream/sasl/types';
import type { Connection, ConnectionHandlers } from './connection';

export class SocketConnection implements Connection {
  private socket: Socket;
  private handlers: ConnectionHandlers | undefined;
  private decoder = utf8Decoder();
  /** The input stopped being UTF-8: nothing more is decoded or delivered. */
  private undecodable = false;
  private pending = '';
  private flushScheduled = false;
  private closed = false;
  readonly remoteAddress: string;

  constructor(
    socket: Socket,
    private readonly secureContext: SecureContext | undefined,
  ) {
    this.socket = socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    socket.setNoDelay(true);
    this.attach(socket);
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket && this.socket.encrypted === true;
  }

  get canStartTls(): boolean {
    return !this.secure && this.secureContext !== undefined;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  private readonly onData = (buf: Buffer): void => {
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
    if (text.length > 0) this.handlers?.onData(text);
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

  private rejectEncoding(): void {
    this.undecodable = true;
    this.handlers?.onInvalidEncoding();
  }

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.onClose();
  };

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', () => socket.destroy());
  }

  write(data: string): void {
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
    raw.off('end', this.onEnd);
    raw.off('close', this.onClose);
    raw.removeAllListeners('error');
    this.decoder = utf8Decoder();
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
    const s = this.socket;
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

function utf8Decoder() {
  return new TextDecoder('utf-8', { fatal: true });
}

export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
