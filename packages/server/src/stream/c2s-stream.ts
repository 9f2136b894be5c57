// A client-to-server stream (RFC 6120 §4–§7): header → features → STARTTLS → SASL → restart → bind →
// established. One stanza at a time per stream (STYLE.md habit 7): the socket is paused while a stanza's
// processing awaits, so a flooding client slows only itself.
import { randomBytes } from 'node:crypto';
import {
  Jid, JidError, NS, SaslFailure, StanzaError, StreamError, StreamParser, XmlElement, errorReply, xml,
  type Attrs,
} from '@parley/protocol';
import type { Connection } from '../net/connection';
import type { ParleyServer } from '../core/server';
import type { Session } from '../core/sessions';
import type { AuthenticatedStream, ClientStream } from '../core/client-stream';
import type { Logger } from '../log';
import { SaslNegotiation } from './sasl-negotiation';
import { Sasl2Negotiation, failureElement } from './sasl2-negotiation';
import type { C2sPolicy } from './c2s-policy';

type State = 'header' | 'negotiating' | 'authenticated' | 'established' | 'closed';

const MAX_QUEUE = 64;

export class C2sStream implements ClientStream, AuthenticatedStream {
  readonly id = randomBytes(8).toString('base64url');
  private moduleState: Map<string, unknown> | undefined;
  available = false;
  presence: XmlElement | undefined;
  priority = 0;
  interested = false;
  jid!: Jid;

  private phase: State = 'header';
  private parser!: StreamParser;
  private headerSent = false;
  private username: string | undefined;
  private readonly queue: XmlElement[] = [];
  private processing = false;
  private paused = false;
  private sasl: SaslNegotiation | undefined;
  private sasl2: Sasl2Negotiation | undefined;
  private bound = false;
  /** RFC 6120 §4.7.4: the client's default language, stamped on its stanzas that carry none (§8.1.5). */
  private lang: string | undefined;
  /** RFC 6120 §4.4: the client closed its stream; close ours once the stanzas it sent before are processed. */
  private closeAfterDrain = false;
  lastActivity = Date.now();
  private logger: Logger | undefined;

  constructor(
    private readonly server: ParleyServer,
    /** Replaced when a resumed session continues on another stream's transport (XEP-0198 §5, see adopt()). */
    private conn: Connection,
    private readonly policy: C2sPolicy,
  ) {
    this.resetParser();
    conn.setHandlers({
      onData: (chunk) => {
        if (conn !== this.conn) return; // a transport this session was resumed away from
        this.lastActivity = Date.now();
        this.parser.write(chunk);
      },
      onInvalidEncoding: () => {
        if (conn === this.conn) this.target.close(new StreamError('unsupported-encoding', 'the stream is not valid UTF-8'));
      },
      onClose: () => this.target.onTransportClosed(conn),
    });
  }

  /** Per-module session state, allocated on first use (most idle sessions never need one). */
  get state(): Map<string, unknown> {
    return (this.moduleState ??= new Map());
  }

  /** Frees parse buffers of a client that is idle between stanzas (they are rebuilt on its next byte). */
  compact(): void {
    this.parser.release();
  }

  /** Created on first use: a child logger per idle session would cost memory for nothing. */
  private get log(): Logger {
    return (this.logger ??= this.server.log.child({ c2s: this.id, ip: this.conn.remoteAddress, jid: this.bound ? this.jid.toString() : undefined }));
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  get secure(): boolean {
    return this.conn.secure;
  }

  get isEstablished(): boolean {
    const s = this.target;
    return s.phase === 'established' && !s.detached;
  }

  private resetParser(): void {
    this.parser = new StreamParser(
      {
        onOpen: (name, attrs, ns, contentNs) => this.target.onHeader(name, attrs, ns, contentNs),
        onElement: (el) => this.target.enqueue(el),
        onClose: () => this.target.onPeerClose(),
        onError: (condition, text) => this.target.close(new StreamError(condition, text)),
      },
      { maxStanzaSize: this.policy.maxStanzaSize },
    );
  }

  // RFC 6120 §4.7: validate the initial header and answer with ours. The parser resolved the namespaces (any prefix
  // may stand for the stream namespace, §4.8.5).
  private onHeader(name: string, attrs: Attrs, ns: string, contentNs: string): void {
    if (this.phase !== 'header') return this.close(new StreamError('not-well-formed', 'unexpected stream header'));
    const local = name.slice(name.indexOf(':') + 1);
    this.sendHeader(attrs);
    if (local !== 'stream' || ns !== NS.STREAM) return this.close(new StreamError('invalid-namespace'));
    // RFC 6120 §4.8.2: the content namespace of a client stream, the default namespace stanzas are in, is
    // jabber:client (an unprefixed <stream/> would make it the stream namespace).
    if (contentNs !== NS.CLIENT) return this.close(new StreamError('invalid-namespace'));
    if (attrs.to !== undefined) {
      const to = Jid.tryParse(attrs.to);
      if (!to || to.domain !== this.server.domain || !to.isDomain) return this.close(new StreamError('host-unknown'));
    }
    const version = attrs.version;
    // RFC 6120 §4.7.5: a missing version means 0.9, which we do not speak; major versions above 1 neither.
    if (version === undefined || !/^1\.\d+$/.test(version)) return this.close(new StreamError('unsupported-version'));
    const lang = attrs['xml:lang'];
    if (lang !== undefined && LANGUAGE_TAG.test(lang)) this.lang = lang;
    this.phase = this.username === undefined ? 'negotiating' : 'authenticated';
    this.sendFeatures();
  }

  private sendHeader(attrs: Attrs): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const header = xml('stream:stream', {
      xmlns: NS.CLIENT,
      'xmlns:stream': NS.STREAM,
      id: randomBytes(12).toString('base64url'),
      from: this.server.domain,
      to: attrs.from !== undefined && Jid.tryParse(attrs.from) ? attrs.from : undefined,
      version: '1.0',
      'xml:lang': 'en',
    });
    this.conn.write(`<?xml version='1.0'?>${header.openTag()}`);
  }

  private sendFeatures(): void {
    const features = xml('stream:features');
    if (this.phase === 'negotiating') {
      const tlsRequired = this.policy.requireTls && !this.conn.secure;
      if (this.conn.canStartTls) {
        features.append(xml('starttls', { xmlns: NS.TLS }, tlsRequired ? xml('required') : null));
      }
      // RFC 6120 §5.3.1: with TLS mandatory, SASL is offered only after it.
      if (!tlsRequired || !this.conn.canStartTls) {
        const mechanisms = this.saslNegotiation().offered();
        if (mechanisms.length > 0) {
          features.append(xml('mechanisms', { xmlns: NS.SASL }, ...mechanisms.map((m) => xml('mechanism', null, m))));
        }
        // XEP-0388: SASL2 next to the classic profile, with the same mechanisms under the same TLS policy.
        const sasl2 = this.server.inline.isSasl2Offered ? this.sasl2Negotiation().feature() : undefined;
        if (sasl2) features.append(sasl2);
        const cbTypes = this.saslNegotiation().channelBindingTypes();
        if (cbTypes.length > 0) {
          features.append(xml('sasl-channel-binding', { xmlns: NS.SASL_CB }, ...cbTypes.map((type) => xml('channel-binding', { type }))));
        }
        if (this.policy.registrationOpen) features.append(xml('register', { xmlns: NS.REGISTER_FEATURE }));
      }
      this.conn.write(features.toString());
    } else {
      this.conn.write(this.authenticatedFeatures().toString());
    }
  }

  /** Features of an authenticated stream: resource binding until one is bound (XEP-0386 binds during SASL2). */
  private authenticatedFeatures(): XmlElement {
    const features = xml('stream:features');
    if (!this.bound) {
      features.append(xml('bind', { xmlns: NS.BIND }));
      // RFC 3921 session establishment, kept for old clients and marked optional (RFC 6121 Appendix E).
      features.append(xml('session', { xmlns: NS.SESSION }, xml('optional')));
    }
    const event = { session: this as Session, features: [] as XmlElement[] };
    void this.server.hooks.fire('stream/features', event);
    features.append(...event.features);
    return features;
  }

  private saslNegotiation(): SaslNegotiation {
    return (this.sasl ??= new SaslNegotiation(this.server, this.conn, this.policy));
  }

  private sasl2Negotiation(): Sasl2Negotiation {
    const conn = this.conn;
    const allowInsecure = this.server.config.c2s.allow_plaintext_auth;
    return (this.sasl2 ??= new Sasl2Negotiation(
      this.server,
      this.saslNegotiation(),
      {
        remoteAddress: conn.remoteAddress,
        get secure() {
          return conn.secure;
        },
        allowInsecure,
        channelBinding: (type) => conn.channelBinding(type),
      },
      { session: this, bind: (account, resource) => this.claimResource(account, resource) },
    ));
  }

  private enqueue(el: XmlElement): void {
    this.queue.push(el);
    if (this.queue.length >= MAX_QUEUE && !this.paused) {
      this.paused = true;
      this.conn.pause();
    }
    if (!this.processing) void this.drain();
  }

  private async drain(): Promise<void> {
    this.processing = true;
    try {
      while (this.queue.length > 0 && this.phase !== 'closed') {
        const el = this.queue.shift()!;
        try {
          await this.handleElement(el);
        } catch (err) {
          if (err instanceof StreamError) this.close(err);
          else {
            this.log.error({ err }, 'stream element failed');
            this.close(new StreamError('internal-server-error'));
          }
        }
      }
    } finally {
      this.processing = false;
      if (this.closeAfterDrain) this.close();
      if (this.paused && this.phase !== 'closed') {
        this.paused = false;
        this.conn.resume();
      }
    }
  }

  private async handleElement(el: XmlElement): Promise<void> {
    switch (this.phase) {
      case 'negotiating':
        return this.handleNegotiation(el);
      case 'authenticated':
        return this.handleBind(el);
      case 'established':
        return this.handleStanza(el);
      default:
        return;
    }
  }

  private async handleNegotiation(el: XmlElement): Promise<void> {
    const ns = el.attrs.xmlns;
    // XEP-0388 §2.4: during a SASL2 exchange only <response/> and <abort/> may come; anything else ends the stream.
    if (this.sasl2?.inProgress && !(ns === NS.SASL2 && (el.name === 'response' || el.name === 'abort'))) {
      return this.close(new StreamError('policy-violation', 'only <response/> or <abort/> while authenticating'));
    }
    if (ns === NS.SASL2 && this.server.inline.isSasl2Offered) return this.handleSasl2(el);
    if (el.name === 'starttls' && ns === NS.TLS) {
      if (!this.conn.canStartTls) return this.close(new StreamError('unsupported-feature', 'TLS is not available'));
      this.conn.write(xml('proceed', { xmlns: NS.TLS }).toString());
      // RFC 6120 §5.4.3.3: both sides start afresh after TLS; nothing from before is kept.
      this.queue.length = 0;
      this.headerSent = false;
      this.phase = 'header';
      this.resetParser();
      try {
        await this.conn.startTls();
      } catch (err) {
        this.log.debug({ err }, 'TLS handshake failed');
        this.conn.destroy();
      }
      return;
    }
    if (ns === NS.SASL && (el.name === 'auth' || el.name === 'response' || el.name === 'abort')) {
      if (this.policy.requireTls && !this.conn.secure && this.conn.canStartTls) {
        this.conn.write(new SaslFailure('encryption-required').toElement().toString());
        return;
      }
      const outcome = await this.saslNegotiation().handle(el);
      this.conn.write(outcome.reply.toString());
      if (outcome.username !== undefined) {
        this.username = outcome.username;
        this.sasl = this.sasl2 = undefined; // one authentication per stream (RFC 6120 §6.4.6)
        // RFC 6120 §6.4.6: the stream restarts after <success/>.
        this.headerSent = false;
        this.phase = 'header';
        this.resetParser();
      } else if (outcome.disconnect) {
        this.close(new StreamError('policy-violation', 'too many failed authentication attempts'));
      }
      return;
    }
    if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT)) {
      // XEP-0077 §3: registration happens before authentication, over TLS when TLS is required.
      if (!this.policy.requireTls || this.conn.secure) {
        const reply = await this.policy.preAuthIq?.(el, this);
        if (reply) {
          this.conn.write(reply.toString());
          return;
        }
      }
      if (el.attrs.type === 'get' || el.attrs.type === 'set') {
        this.conn.write(errorReply(el, new StanzaError('not-authorized')).toString());
        return;
      }
    }
    this.close(new StreamError('not-authorized', 'authenticate first'));
  }

  // XEP-0388: no stream restart after SASL2's <success/> (§2.6.1): the features of the authenticated stream follow
  // at once, and a stream Bind 2 bound during authentication is established right away (XEP-0386).
  private async handleSasl2(el: XmlElement): Promise<void> {
    if (this.policy.requireTls && !this.conn.secure && this.conn.canStartTls) {
      this.conn.write(failureElement(new SaslFailure('encryption-required')).toString());
      return;
    }
    const outcome = await this.sasl2Negotiation().handle(el);
    if (outcome.username === undefined) {
      this.conn.write(outcome.reply.toString());
      if (outcome.disconnect) this.close(new StreamError('policy-violation', 'too many failed authentication attempts'));
      return;
    }
    this.username = outcome.username;
    this.sasl = this.sasl2 = undefined; // one authentication per stream (XEP-0388 §4.8)
    if (outcome.resumed) {
      // XEP-0198 inline: <success/> carries <resumed/>, then the earlier session goes on over this transport.
      if (!this.handOver(outcome.resumed.session)) return this.close(new StreamError('undefined-condition', 'The session ended before it was resumed'));
      this.conn.write(outcome.reply.toString());
      return outcome.resumed.then();
    }
    // The transport may have gone while the features negotiated (storage awaits): nothing to establish then.
    if (this.phase === 'closed') return;
    if (outcome.bound) {
      // The session enters the table in the same tick as <success/> is written: nothing routed to it can come first.
      this.jid = outcome.bound;
      this.server.sessions.add(this);
      this.bound = true;
      this.phase = 'established';
      this.logger = undefined;
    } else {
      this.phase = 'authenticated';
    }
    this.conn.write(outcome.reply.toString());
    this.conn.write(this.authenticatedFeatures().toString());
    if (outcome.bound) await this.server.hooks.fire('session/bound', { session: this });
  }

  /** XEP-0386 during SASL2: a resource for the account, under the checks of RFC 6120 §7 binding. */
  private claimResource(account: Jid, resource: string): Jid {
    let jid: Jid;
    try {
      jid = account.withResource(resource);
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      throw new SaslFailure('malformed-request', `invalid resource: ${err.message}`);
    }
    if (this.server.sessions.localSize >= this.policy.maxSessions) throw new SaslFailure('temporary-auth-failure', 'server full');
    this.jid = jid;
    return jid;
  }

  // RFC 6120 §7: resource binding; RFC 3921 §3: session establishment as a no-op.
  private async handleBind(el: XmlElement): Promise<void> {
    if (el.name !== 'iq' || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.CLIENT)) {
      if (await this.policy.preBindElement?.(el, this)) return;
      return this.close(new StreamError('not-authorized', 'bind a resource first'));
    }
    const bind = el.getChild('bind', NS.BIND);
    if (el.attrs.type !== 'set' || !bind) {
      if (el.attrs.type === 'get' || el.attrs.type === 'set') this.conn.write(errorReply(el, new StanzaError('not-authorized')).toString());
      return;
    }
    const bare = Jid.of(this.username, this.server.domain);
    let resource = bind.getChildText('resource')?.trim();
    if (resource) {
      try {
        this.jid = bare.withResource(resource);
      } catch (err) {
        if (!(err instanceof JidError)) throw err;
        // RFC 6120 §7.7.2.1: a resource that violates the rules is bad-request.
        this.conn.write(errorReply(el, new StanzaError('bad-request', err.message)).toString());
        return;
      }
    } else {
      do resource = randomBytes(6).toString('base64url');
      while (this.server.sessions.isResourceInUse(bare.toString(), resource));
      this.jid = bare.withResource(resource);
    }
    if (this.server.sessions.localSize >= this.policy.maxSessions) {
      this.conn.write(errorReply(el, new StanzaError('resource-constraint', 'server full')).toString());
      return;
    }
    this.server.sessions.add(this);
    this.bound = true;
    this.phase = 'established';
    this.conn.write(
      xml('iq', { type: 'result', id: el.attrs.id }, xml('bind', { xmlns: NS.BIND }, xml('jid', null, this.jid.toString()))).toString(),
    );
    this.logger = undefined;
    await this.server.hooks.fire('session/bound', { session: this });
  }

  private async handleStanza(el: XmlElement): Promise<void> {
    const name = el.name;
    if ((name !== 'message' && name !== 'presence' && name !== 'iq') || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.CLIENT)) {
      if (el.attrs.xmlns === NS.SESSION || el.getChild('session', NS.SESSION)) return;
      if (await this.policy.streamElement?.(el, this)) return;
      return this.close(new StreamError('unsupported-stanza-type', `<${name}/> is not a stanza`));
    }
    if (this.server.hooks.has('session/received')) this.server.hooks.emit('session/received', { session: this, stanza: el }, this.server.hookFailed);
    if (name === 'iq' && el.attrs.type === 'set' && el.getChild('session', NS.SESSION)) {
      this.send(xml('iq', { type: 'result', id: el.attrs.id, from: this.server.domain }));
      return;
    }
    // RFC 6120 §7.6.2.2: one resource per stream (binding several is not offered); a second bind is not-allowed
    // rather than an iq routed to the user's own account.
    if (name === 'iq' && el.attrs.type === 'set' && el.getChild('bind', NS.BIND)) {
      this.send(errorReply(el, new StanzaError('not-allowed', 'a resource is already bound to this stream')));
      return;
    }
    // RFC 6120 §8.1.2.1: the server stamps the full JID; a client claiming someone else is cut off.
    const claimed = el.attrs.from;
    if (claimed !== undefined && claimed !== this.jid.toString() && claimed !== this.jid.toBareString()) {
      const parsed = Jid.tryParse(claimed);
      if (!parsed || !(parsed.equals(this.jid) || parsed.equals(this.jid.bare()))) {
        return this.close(new StreamError('invalid-from'));
      }
    }
    el.attrs.from = this.jid.toString();
    delete el.attrs.xmlns;
    // RFC 6120 §8.1.5: a stanza without xml:lang gets the language the client declared for its stream.
    if (this.lang !== undefined && el.attrs['xml:lang'] === undefined) el.attrs['xml:lang'] = this.lang;
    const invalid = validateStanza(el);
    if (invalid) {
      if (el.attrs.type !== 'error') this.send(withFrom(errorReply(el, invalid, name !== 'iq'), this.server.domain));
      return;
    }
    if (el.attrs.to !== undefined) {
      const to = Jid.tryParse(el.attrs.to);
      if (!to) {
        if (el.attrs.type !== 'error') {
          this.send(withFrom(errorReply(el, new StanzaError('jid-malformed'), name !== 'iq'), this.server.domain));
        }
        return;
      }
      el.attrs.to = to.toString();
    }
    await this.server.router.route(el, { kind: 'c2s', session: this });
  }

  /** Queues a stanza for the client (written in one batch per tick by the connection). */
  send(stanza: XmlElement): void {
    if (this.phase === 'closed') return;
    if (this.server.hooks.has('session/sending')) this.server.hooks.emit('session/sending', { session: this, stanza }, this.server.hookFailed);
    // A hibernating session keeps what it is sent for the client to resume (XEP-0198 §5): a handler above queued it.
    if (this.writable) this.conn.write(stanza.toString());
  }

  /** Writes pre-serialised XML (fan-out serialises once for many recipients). */
  sendRaw(xmlText: string): void {
    if (this.writable) this.conn.write(xmlText);
  }

  sendNonza(el: XmlElement): void {
    if (this.writable) this.conn.write(el.toString());
  }

  resend(xmlText: string): void {
    this.sendRaw(xmlText);
  }

  whitespacePing(): void {
    if (this.successor) return this.successor.whitespacePing();
    if (this.writable) this.conn.write(' ');
  }

  close(error?: StreamError): void {
    if (this.successor) return this.successor.close(error);
    if (this.phase === 'closed') return;
    if (!this.detached) {
      if (error && !this.headerSent) this.sendHeader({});
      if (error) {
        this.log.debug({ condition: error.condition, text: error.text }, 'stream error');
        this.conn.write(error.toElement().toString());
      }
      this.conn.write('</stream:stream>');
      this.conn.end();
      // RFC 6120 §4.9.3.4: the client is believed to have lost the connection, it did not leave (XEP-0198 §5).
      if (error?.condition === 'connection-timeout' && this.phase === 'established') return this.interrupt('connection timeout');
    }
    this.phase = 'closed';
    this.finish(error?.condition);
  }

  // RFC 6120 §4.4: the peer closed its stream; close ours and let the transport go. Stanzas it sent before the
  // closing tag were sent on an open stream and are processed first (a last message or unavailable presence
  // written together with </stream:stream> must not be lost).
  private onPeerClose(): void {
    if (this.processing || this.queue.length > 0) this.closeAfterDrain = true;
    else this.close();
  }

  private onTransportClosed(conn: Connection): void {
    if (conn !== this.conn || this.detached) return;
    // XEP-0198 §7: only a stream closed with </stream:stream> ended the session; a lost one may be resumed.
    if (this.phase === 'established' && !this.closeAfterDrain) return this.interrupt('connection lost');
    this.phase = 'closed';
    this.finish('connection lost');
  }

  private finished = false;
  private finish(reason?: string): void {
    if (this.finished) return;
    this.finished = true;
    this.queue.length = 0;
    if (this.bound && this.server.sessions.remove(this)) {
      void this.server.hooks.fire('session/closed', { session: this, error: reason }).catch((err) => {
        this.log.error({ err }, 'session/closed handler failed');
      });
    }
  }

  // ---- XEP-0198 §5: a session outliving its transport, and resuming on another stream's transport ----
  // Stream management itself is a module (modules/xep-0198-sm); the stream only detaches and re-attaches.

  /** The transport is gone; the session is kept in the table until a module resumes or closes it. */
  private detached = false;
  /** Set once this stream handed its transport to a resumed session: what arrives is that session's now. */
  private successor: C2sStream | undefined;

  /** Where parser and transport events go: this stream, or the session that took its transport over. */
  private get target(): C2sStream {
    return this.successor ?? this;
  }

  get isDetached(): boolean {
    return this.detached;
  }

  private get writable(): boolean {
    return this.phase !== 'closed' && !this.detached;
  }

  /** The authenticated account (bare JID). */
  get account(): Jid {
    if (this.username === undefined) throw new Error('the stream is not authenticated');
    return Jid.of(this.username, this.server.domain);
  }

  // What arrived but was not processed is not handled: a resuming client sends it again (XEP-0198 §4).
  private interrupt(reason: string): void {
    this.detached = true;
    this.queue.length = 0;
    this.closeAfterDrain = false;
    const end = (): void => {
      if (!this.detached || this.phase === 'closed') return;
      this.phase = 'closed';
      this.finish(reason);
    };
    if (!this.server.hooks.has('session/interrupted')) return end();
    this.server.hooks.fire('session/interrupted', { session: this }).then(
      (kept) => {
        if (!kept) end();
      },
      (err: unknown) => {
        this.log.error({ err }, 'session/interrupted handler failed');
        end();
      },
    );
  }

  handOver(session: ClientStream): boolean {
    if (!(session instanceof C2sStream) || session === this || this.successor) throw new Error('only a session of this node can take over a stream');
    if (this.username === undefined || !session.jid.bare().equals(this.account)) throw new Error('not the same account');
    // Either may have ended while an authentication with inline resumption awaited storage (XEP-0388).
    if (this.phase === 'closed' || session.phase !== 'established') return false;
    session.adopt(this);
    return true;
  }

  private adopt(from: C2sStream): void {
    const old = this.conn;
    if (!this.detached) {
      // XEP-0198 §5: the stream the session was on is closed; the session itself goes on.
      old.write(new StreamError('conflict', 'Replaced by a resumed stream').toElement().toString() + '</stream:stream>');
      old.end();
    }
    this.conn = from.conn;
    this.parser = from.parser;
    this.detached = false;
    this.headerSent = true;
    this.lang = from.lang;
    this.lastActivity = Date.now();
    this.logger = undefined;
    // Unprocessed elements of the old stream were never handled; those the client pipelined on the new one are ours.
    this.queue.length = 0;
    this.queue.push(...from.queue.splice(0));
    this.closeAfterDrain = from.closeAfterDrain;
    this.paused = from.paused;
    from.paused = from.closeAfterDrain = false;
    from.successor = this;
    from.phase = 'closed';
    from.finished = true;
    // After the caller's synchronous part (<resumed/>, retransmission), so what they write comes first.
    queueMicrotask(() => {
      if (!this.processing && (this.queue.length > 0 || this.closeAfterDrain)) void this.drain();
    });
  }
}

function withFrom(el: XmlElement, from: string): XmlElement {
  el.attrs.from ??= from;
  return el;
}

/** RFC 5646 language tags, loosely: letters, digits and hyphens, up to 35 characters. */
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/;

const MESSAGE_TYPES = new Set(['chat', 'error', 'groupchat', 'headline', 'normal']);
const PRESENCE_TYPES = new Set(['error', 'probe', 'subscribe', 'subscribed', 'unavailable', 'unsubscribe', 'unsubscribed']);

/** RFC 6120 §8.2 / RFC 6121 §4.7.1, §5.2.2: the checks every stanza passes before routing. */
export function validateStanza(el: XmlElement): StanzaError | undefined {
  const type = el.attrs.type;
  if (el.name === 'iq') {
    if (el.attrs.id === undefined || el.attrs.id === '') return new StanzaError('bad-request', 'iq needs an id');
    if (type === 'get' || type === 'set') {
      if (el.elements().length !== 1) return new StanzaError('bad-request', 'iq get/set must have exactly one child');
    } else if (type !== 'result' && type !== 'error') {
      return new StanzaError('bad-request', 'invalid iq type');
    }
  } else if (el.name === 'presence') {
    if (type !== undefined && !PRESENCE_TYPES.has(type)) return new StanzaError('bad-request', 'invalid presence type');
  } else if (type !== undefined && !MESSAGE_TYPES.has(type)) {
    // RFC 6121 §5.2.2: an unknown message type is treated as 'normal'.
    delete el.attrs.type;
  }
  return undefined;
}
