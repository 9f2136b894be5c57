// A Connection over a WebSocket (RFC 7395): every message is one complete element — <open/> and <close/> in the
// framing namespace instead of the stream's opening and closing tags (§3.3), each stanza its own document with its
// namespaces declared (§3.3.3). ws rejects text frames that are not UTF-8 (RFC 6455 §8.1) and bounds a message's
// size; ping frames are the keepalive, and their pongs prove the client alive.
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { NS, StreamError, StreamParser, xml, type XmlElement } from '@parley/protocol';
import type { WebSocket, RawData } from 'ws';
import type { ChannelBindingType } from '../stream/sasl/types';
import type { Connection, FramedHandlers } from './connection';
import { normalizeAddress, tlsChannelBinding } from './socket-connection';

export interface WebSocketConnectionOptions {
  maxStanzaSize: number;
  /** Bytes queued for a client that does not read before it is cut off (a slow or stalled client). */
  maxSendBuffer: number;
  /** RFC 7395 §3.6.1: every client opening a stream is sent here instead. */
  seeOtherUri?: string;
}

/** RFC 7395 §3.3.3: top-level stanzas carry the content namespace; our serialised stanzas leave it out. */
const STANZA_START = /^<(message|presence|iq)(?=[\s/>])/;

export class WebSocketConnection implements Connection {
  private handlers: FramedHandlers | undefined;
  private closed = false;
  /** A new <open/> is expected: at the start and after a restart (§3.5, after SASL). */
  private awaitingOpen = true;
  lastActivity = Date.now();
  readonly transport = 'websocket';
  readonly remoteAddress: string;
  readonly secure: boolean;
  readonly canStartTls = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Socket,
    private readonly options: WebSocketConnectionOptions,
    /** loopback: the endpoint found a direct connection from this machine (websocket.loopback_is_secure). */
    trust: { loopback: boolean } = { loopback: false },
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.secure = (socket instanceof TLSSocket && socket.encrypted === true) || trust.loopback;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('pong', () => {
      this.lastActivity = Date.now();
    });
    ws.on('close', () => this.onClose());
    ws.on('error', () => ws.terminate());
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  setHandlers(handlers: FramedHandlers): void {
    this.handlers = handlers;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.lastActivity = Date.now();
    // §3.2: XMPP over WebSocket uses text frames only.
    if (isBinary) return this.handlers?.onError(new StreamError('unsupported-encoding', 'RFC 7395 §3.2: text frames only'));
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const el = parseMessage(text, this.options.maxStanzaSize);
    if (el instanceof StreamError) return this.handlers?.onError(el);
    if (el.name === 'open' && el.attrs.xmlns === NS.FRAMING) {
      if (this.options.seeOtherUri !== undefined) return this.redirect(this.options.seeOtherUri);
      this.awaitingOpen = false;
      return this.handlers?.onOpen({ attrs: el.attrs });
    }
    if (el.name === 'close' && el.attrs.xmlns === NS.FRAMING) return this.handlers?.onClose();
    // §3.3.1: the stream starts with <open/>; anything else is not this framing (a <stream:stream> header, say).
    if (this.awaitingOpen) return this.handlers?.onOpen({ attrs: el.attrs, error: new StreamError('invalid-namespace', 'RFC 7395: open the stream with <open/>') });
    this.handlers?.onElement(el);
  }

  // RFC 7395 §3.6.1: <close/> with see-other-uri instead of an <open/>, then the WebSocket closes.
  private redirect(uri: string): void {
    this.ws.send(xml('close', { xmlns: NS.FRAMING, 'see-other-uri': uri }).toString());
    this.end();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.onTransportClosed();
  }

  openStream(attrs: Record<string, string | undefined>): void {
    // §3.3.1: no content namespace: the framing namespace, and jabber:client on each stanza.
    this.write(xml('open', { xmlns: NS.FRAMING, ...attrs }).toString());
  }

  send(xmlText: string): void {
    this.write(withNamespaces(xmlText));
  }

  closeStream(): void {
    this.write(xml('close', { xmlns: NS.FRAMING }).toString());
  }

  restartStream(): void {
    this.awaitingOpen = true;
  }

  startTls(): Promise<void> {
    return Promise.reject(new Error('no STARTTLS on a WebSocket'));
  }

  channelBinding(type: ChannelBindingType): Buffer | undefined {
    return tlsChannelBinding(this.socket, type);
  }

  // RFC 6455 §5.5.2: a ping the client answers with a pong (which counts as activity).
  keepalive(): void {
    if (!this.closed) this.ws.ping();
  }

  compact(): void {
    // Every message is parsed on its own: nothing is buffered between messages.
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.closed) return;
    this.ws.close(1000);
    // A client that never completes the closing handshake must not hold the connection (RFC 6455 §7.1.1).
    setTimeout(() => this.destroy(), 5000).unref();
  }

  destroy(): void {
    this.ws.terminate();
    this.onClose();
  }

  private write(text: string): void {
    if (this.closed) return;
    this.ws.send(text);
    // A client that reads nothing fills our memory: past the bound it is cut off, as if its connection broke (it can
    // resume with XEP-0198 and gets what it missed).
    if (this.ws.bufferedAmount > this.options.maxSendBuffer) this.destroy();
  }
}

/** One message: one element, within the size limit, in restricted XML (RFC 6120 §11 applies to each). */
function parseMessage(text: string, maxStanzaSize: number): XmlElement | StreamError {
  let result: XmlElement | undefined;
  let error: StreamError | undefined;
  const parser = new StreamParser(
    {
      onOpen: () => {},
      onElement: (el) => {
        if (result) error ??= new StreamError('not-well-formed', 'RFC 7395 §3.3.3: one element per message');
        result = el;
      },
      onClose: () => {},
      onError: (condition, message) => {
        error ??= new StreamError(condition, message);
      },
    },
    { maxStanzaSize, mode: 'document' },
  );
  parser.write(text);
  parser.end();
  if (error) return error;
  return result ?? new StreamError('not-well-formed', 'no element in the message');
}

/**
 * §3.3.3: each message is a document of its own, so the prefix 'stream' is declared on the elements that use it
 * (features, errors) and stanzas carry jabber:client. BOSH bodies need the same (XEP-0206 §6).
 */
export function withNamespaces(text: string): string {
  if (text.startsWith('<stream:')) {
    const end = text.search(/[\s/>]/);
    return `${text.slice(0, end)} xmlns:stream='${NS.STREAM}'${text.slice(end)}`;
  }
  const stanza = STANZA_START.exec(text);
  if (!stanza) return text;
  const tagEnd = text.indexOf('>');
  if (/\sxmlns=/.test(text.slice(0, tagEnd))) return text;
  const at = stanza[0].length;
  return `${text.slice(0, at)} xmlns='${NS.CLIENT}'${text.slice(at)}`;
}
