// One stream machine for every transport and every kind of stream (the shape of processone/xmpp's
// xmpp_stream_in): it owns the states of RFC 6120 §4 — header, features, established, closed — the
// one-element-at-a-time queue with the transport paused while a handler awaits (STYLE.md habit 7), the close
// handshake of §4.4, and a stream outliving its transport (XEP-0198 §5, see resumption.ts). What a stream
// negotiates and does with its stanzas is its policy's (c2s-session.ts, component-policy.ts): the machine
// calls the policy, never the reverse. The transport (net/connection.ts) owns the framing.
import { randomBytes } from 'node:crypto';
import { Jid, NS, StreamError, XmlElement, xml } from '@parley/protocol';
import type { Connection, FramedHandlers, StreamHeader } from '../net/connection';
import type { Logger } from '../log';

export type StreamState = 'header' | 'features' | 'established' | 'closed';

/**
 * What the machine does after the policy handled an element: nothing; 'restart' (RFC 6120 §6.4.6: a new header
 * follows SASL success); 'starttls' (§5.4.3.3: the policy accepted <starttls/>, the machine answers <proceed/>
 * and upgrades); 'established' (stanzas may flow: RFC 6120 §7 bound, or a server stream authenticated).
 */
export type Step = void | 'restart' | 'starttls' | 'established';

export interface StreamPolicy {
  /** RFC 6120 §4.8.2: jabber:client or jabber:server; XEP-0114: jabber:component:accept. */
  readonly contentNamespace: string;
  /** The 'from' of our header. */
  readonly localDomain: string;
  /**
   * XEP-0114 §3: a pre-RFC 3920 stream, with neither a version nor stream features: our header carries no version,
   * none is required of the peer's, and the first element after the headers is the policy's (the handshake).
   */
  readonly versionless?: boolean;
  /**
   * RFC 6120 §4.2: we opened this stream (an outgoing server-to-server stream) to this domain: our header goes first
   * (open()) and after every restart, the peer sends the features, and 'starttls' means that the peer said <proceed/>.
   */
  readonly initiatingTo?: string;
  /**
   * Namespace prefixes our header declares besides the content and stream ones, e.g. `{ 'xmlns:db': … }`: XEP-0220
   * §2.1.1 / §2.2.1, a server that speaks dialback says so on its header (and some peers parse db: elements only then).
   */
  headerNamespaces?(): Record<string, string>;
  /** The 'from' of our header answering `peer` when it is not localDomain (XEP-0114 §3: the component's domain). */
  headerFrom?(peer: Record<string, string | undefined>): string | undefined;
  readonly log: Logger;
  /** The peer's header beyond framing and version ('to', 'xml:lang'); a StreamError refuses it. */
  checkHeader(header: StreamHeader): StreamError | undefined;
  /** The children of <stream:features/> for the stream just opened (the policy knows how far negotiation got). */
  features(): Promise<XmlElement[]>;
  /** One element before the stream is established, or a stanza on an established one. Throwing StreamError closes. */
  handle(el: XmlElement, state: 'features' | 'established'): Promise<Step>;
  /** The stream was established (after the step that said so); stanzas may flow. */
  established?(): Promise<void>;
  /**
   * The transport of an established stream was lost without a closing tag (XEP-0198 §5). Whether the policy keeps
   * the stream, detached, for a later close() or adopt(); otherwise the stream ends.
   */
  interrupted(): boolean | Promise<boolean>;
  /** The stream is over (closed, failed, or its transport lost and not kept); called once. */
  ended(reason: string | undefined): void;
}

const MAX_QUEUE = 64;

export class StreamMachine {
  private stateValue: StreamState = 'header';
  private headerSent = false;
  private streamIdValue: string | undefined;
  private peerStreamIdValue: string | undefined;
  private readonly queue: (XmlElement | StreamHeader)[] = [];
  private processing = false;
  private paused = false;
  /** RFC 6120 §4.4: the peer closed its stream; close ours once the elements it sent before are processed. */
  private closeAfterDrain = false;
  private finished = false;
  /** XEP-0198 §5: the transport is gone and the policy kept the stream; nothing is written until it is adopted. */
  private detached = false;
  /** Set once this machine handed its transport to another (adopt()): what arrives is that machine's now. */
  private successor: StreamMachine | undefined;

  constructor(
    /** Replaced when another stream's transport is adopted (XEP-0198 §5). */
    private conn: Connection,
    private readonly policy: StreamPolicy,
  ) {
    this.attach(conn);
  }

  private attach(conn: Connection): void {
    // Events of a transport this stream was resumed away from are not this stream's any more.
    const handlers: FramedHandlers = {
      onOpen: (header) => {
        if (conn === this.conn) this.enqueue(header);
      },
      onElement: (el) => {
        if (conn !== this.conn) return;
        // RFC 6120 §4.9.1.1: a peer's stream error is followed by its closing tag, and the receiver does not answer it
        // with a stream error of its own (§4.9.3): our stream closes as for </stream:stream>.
        if (isStreamError(el)) this.onPeerClose();
        else this.enqueue(el);
      },
      onClose: () => {
        if (conn === this.conn) this.onPeerClose();
      },
      onError: (error) => {
        if (conn === this.conn) this.close(error);
      },
      onTransportClosed: () => this.onTransportClosed(conn),
      // RFC 6120 §4.9.3.4: a peer that stops reading what it is sent is treated as one that lost its connection, so
      // a resumable session waits for it and unacknowledged stanzas follow XEP-0198.
      onSendBufferFull: () => {
        if (conn === this.conn) this.close(new StreamError('connection-timeout', 'The peer is not reading what it is sent'));
      },
    };
    conn.setHandlers(handlers);
  }

  get state(): StreamState {
    return this.stateValue;
  }

  get connection(): Connection {
    return this.conn;
  }

  /** The 'id' of our header (RFC 6120 §4.7.3), once sent: XEP-0114's handshake digest is computed over it. */
  get streamId(): string | undefined {
    return this.streamIdValue;
  }

  /** The 'id' of the peer's header: XEP-0220 dialback keys of an outgoing stream are computed over it. */
  get peerStreamId(): string | undefined {
    return this.peerStreamIdValue;
  }

  /** RFC 6120 §4.7: the initiating entity's header (initiatingTo policies), at the start and after every restart. */
  open(): void {
    if (this.stateValue === 'closed' || this.headerSent) return;
    this.headerSent = true;
    this.conn.openStream(
      { ...this.policy.headerNamespaces?.(), from: this.policy.localDomain, to: this.policy.initiatingTo, version: '1.0', 'xml:lang': 'en' },
      this.policy.contentNamespace,
    );
  }

  /** Established and attached to a transport: keepalives make sense. */
  get isEstablished(): boolean {
    const m = this.successor ?? this;
    return m.stateValue === 'established' && !m.detached;
  }

  get isDetached(): boolean {
    return this.detached;
  }

  get lastActivity(): number {
    return (this.successor ?? this).conn.lastActivity;
  }

  /** Writes one serialised element, unless the stream is closed or has no transport. */
  send(xmlText: string): void {
    if (this.stateValue !== 'closed' && !this.detached) this.conn.send(xmlText);
  }

  keepalive(): void {
    if (this.successor) return this.successor.keepalive();
    if (this.stateValue !== 'closed' && !this.detached) this.conn.keepalive();
  }

  compact(): void {
    (this.successor ?? this).conn.compact();
  }

  // RFC 6120 §4.7: our header answers the peer's, with the peer's 'from' as 'to' when it is a JID.
  private sendHeader(peer: Record<string, string | undefined>): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.streamIdValue = randomBytes(12).toString('base64url');
    this.conn.openStream(
      {
        ...this.policy.headerNamespaces?.(),
        id: this.streamIdValue,
        from: this.policy.headerFrom?.(peer) ?? this.policy.localDomain,
        to: peer.from !== undefined && Jid.tryParse(peer.from) ? peer.from : undefined,
        version: this.policy.versionless ? undefined : '1.0',
        'xml:lang': 'en',
      },
      this.policy.contentNamespace,
    );
  }

  private enqueue(item: XmlElement | StreamHeader): void {
    if (this.successor) return this.successor.enqueue(item);
    this.queue.push(item);
    if (this.queue.length >= MAX_QUEUE && !this.paused) {
      this.paused = true;
      this.conn.pause();
    }
    if (!this.processing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.processing = true;
    try {
      while (this.queue.length > 0 && this.stateValue !== 'closed') {
        const item = this.queue.shift()!;
        try {
          if (item instanceof XmlElement) await this.handleElement(item);
          else await this.handleHeader(item);
        } catch (err) {
          if (err instanceof StreamError) this.close(err);
          else {
            this.policy.log.error({ err }, 'stream element failed');
            this.close(new StreamError('internal-server-error'));
          }
        }
      }
    } finally {
      this.processing = false;
      if (this.closeAfterDrain) this.close();
      if (this.paused && this.stateValue !== 'closed') {
        this.paused = false;
        this.conn.resume();
      }
    }
  }

  // RFC 6120 §4.7: validate the header and answer with ours, then the features (§4.3.2).
  private async handleHeader(header: StreamHeader): Promise<void> {
    if (this.stateValue !== 'header') return this.close(new StreamError('not-well-formed', 'unexpected stream header'));
    if (this.policy.initiatingTo !== undefined) return this.handleResponseHeader(header);
    this.sendHeader(header.attrs);
    if (header.error) return this.close(header.error);
    // RFC 6120 §4.8.2: the content namespace is the policy's (jabber:client for a client stream).
    if (header.contentNamespace !== undefined && header.contentNamespace !== this.policy.contentNamespace) {
      return this.close(new StreamError('invalid-namespace'));
    }
    const refused = this.policy.checkHeader(header);
    if (refused) return this.close(refused);
    if (this.policy.versionless) {
      // XEP-0114 §3: no features; the peer speaks first (its handshake).
      this.stateValue = 'features';
      return;
    }
    const version = header.attrs.version;
    // RFC 6120 §4.7.5: a missing version means 0.9, which we do not speak; major versions above 1 neither.
    if (version === undefined || !/^1\.\d+$/.test(version)) return this.close(new StreamError('unsupported-version'));
    this.stateValue = 'features';
    // Awaited: features a module adds asynchronously ('stream/features') belong in this very element.
    const features = await this.policy.features();
    if (this.stateValue !== 'features') return;
    this.conn.send(xml('stream:features', null, ...features).toString());
  }

  // RFC 6120 §4.7: the receiving entity's answer to our header; its features follow as an element (§4.3.2).
  private handleResponseHeader(header: StreamHeader): void {
    if (header.error) return this.close(header.error);
    if (header.contentNamespace !== undefined && header.contentNamespace !== this.policy.contentNamespace) {
      return this.close(new StreamError('invalid-namespace'));
    }
    const refused = this.policy.checkHeader(header);
    if (refused) return this.close(refused);
    const version = header.attrs.version;
    if (version === undefined || !/^1\.\d+$/.test(version)) return this.close(new StreamError('unsupported-version'));
    this.peerStreamIdValue = header.attrs.id;
    this.stateValue = 'features';
  }

  private async handleElement(el: XmlElement): Promise<void> {
    const state = this.stateValue;
    if (state !== 'features' && state !== 'established') return;
    const step = await this.policy.handle(el, state);
    if (this.stateValue === 'closed') return;
    switch (step) {
      case 'established':
        this.stateValue = 'established';
        return this.policy.established?.();
      case 'restart':
        // RFC 6120 §6.4.6: the stream restarts after SASL <success/>.
        this.headerSent = false;
        this.stateValue = 'header';
        this.conn.restartStream();
        // §4.3.3: the initiating entity opens the new stream.
        if (this.policy.initiatingTo !== undefined) this.open();
        return;
      case 'starttls':
        return this.startTls();
    }
  }

  // RFC 6120 §5.4.3.3: <proceed/>, then both sides start afresh over TLS; nothing from before is kept.
  private async startTls(): Promise<void> {
    const initiating = this.policy.initiatingTo !== undefined;
    // The initiating entity received <proceed/> (its policy checked it); the receiving one answers with it.
    if (!initiating) this.conn.send(xml('proceed', { xmlns: NS.TLS }).toString());
    this.queue.length = 0;
    this.headerSent = false;
    this.stateValue = 'header';
    try {
      await this.conn.startTls();
      if (initiating) this.open();
    } catch (err) {
      this.policy.log.debug({ err }, 'TLS handshake failed');
      this.conn.destroy();
    }
  }

  /** Ends the stream (RFC 6120 §4.4), with a stream error (§4.9) when given. */
  close(error?: StreamError): void {
    if (this.successor) return this.successor.close(error);
    if (this.stateValue === 'closed') return;
    if (!this.detached) {
      if (error && !this.headerSent) this.sendHeader({});
      if (error) {
        this.policy.log.debug({ condition: error.condition, text: error.text }, 'stream error');
        this.conn.send(error.toElement().toString());
      }
      this.conn.closeStream();
      this.conn.end();
      // RFC 6120 §4.9.3.4: the peer is believed to have lost the connection, it did not leave (XEP-0198 §5).
      if (error?.condition === 'connection-timeout' && this.stateValue === 'established') return this.interrupt('connection timeout');
    }
    this.stateValue = 'closed';
    this.finish(error?.condition);
  }

  // RFC 6120 §4.4: the peer closed its stream; close ours and let the transport go. Elements it sent before the
  // closing tag were sent on an open stream and are processed first (a last message or unavailable presence
  // written together with </stream:stream> must not be lost).
  private onPeerClose(): void {
    if (this.successor) return this.successor.onPeerClose();
    if (this.processing || this.queue.length > 0) this.closeAfterDrain = true;
    else this.close();
  }

  private onTransportClosed(conn: Connection): void {
    const m = this.successor ?? this;
    if (conn !== m.conn || m.detached) return; // a transport this stream was resumed away from
    // XEP-0198 §7: only a stream closed with a closing tag ended the session; a lost one may be resumed.
    if (m.stateValue === 'established' && !m.closeAfterDrain) return m.interrupt('connection lost');
    if (m.stateValue === 'closed') return;
    m.stateValue = 'closed';
    m.finish('connection lost');
  }

  private finish(reason: string | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.queue.length = 0;
    this.policy.ended(reason);
  }

  // What arrived but was not processed is not handled: a resuming client sends it again (XEP-0198 §4).
  private interrupt(reason: string): void {
    this.detached = true;
    this.queue.length = 0;
    this.closeAfterDrain = false;
    const end = (): void => {
      if (!this.detached || this.stateValue === 'closed') return;
      this.stateValue = 'closed';
      this.finish(reason);
    };
    let kept: boolean | Promise<boolean>;
    try {
      kept = this.policy.interrupted();
    } catch (err) {
      this.policy.log.error({ err }, 'stream interruption handler failed');
      return end();
    }
    if (typeof kept === 'boolean') return kept ? undefined : end();
    kept.then(
      (kept) => {
        if (!kept) end();
      },
      (err: unknown) => {
        this.policy.log.error({ err }, 'stream interruption handler failed');
        end();
      },
    );
  }

  /**
   * XEP-0198 §5: this (established, possibly detached) stream continues on `from`'s transport, with what its peer
   * sent after the element being processed; the transport this stream had, if any, is closed with <conflict/>.
   * `from` is over without ending its policy. Elements the peer pipelined are processed after the caller's
   * synchronous part, so what it writes first (<resumed/>, retransmissions) comes first.
   */
  adopt(from: StreamMachine): void {
    const old = this.conn;
    if (!this.detached) {
      old.send(new StreamError('conflict', 'Replaced by a resumed stream').toElement().toString());
      old.closeStream();
      old.end();
    }
    this.conn = from.conn;
    this.attach(this.conn);
    this.detached = false;
    this.headerSent = true;
    // Unprocessed elements of the old stream were never handled; those the peer pipelined on the new one are ours.
    this.queue.length = 0;
    this.queue.push(...from.queue.splice(0));
    this.closeAfterDrain = from.closeAfterDrain;
    this.paused = from.paused;
    from.paused = from.closeAfterDrain = false;
    from.successor = this;
    from.stateValue = 'closed';
    from.finished = true;
    queueMicrotask(() => {
      if (!this.processing && (this.queue.length > 0 || this.closeAfterDrain)) void this.drain();
    });
  }
}

/** <stream:error/> (a raw XML stream keeps the prefix its header bound to the streams namespace, RFC 6120 §4.8.5). */
function isStreamError(el: XmlElement): boolean {
  return el.name === 'stream:error' || (el.name === 'error' && el.attrs.xmlns === NS.STREAM);
}
