// A client-to-server stream's policy and its session (RFC 6120 §4–§8): what the stream machine asks of a client
// stream — header checks, the features of each stage, STARTTLS, SASL and SASL2, resource binding, the checks every
// stanza passes — and the session the router and the modules see. The machine (stream-machine.ts) owns the states,
// the queue and the closing; the transport (net/) owns the framing; XEP-0198 hand-over is resumption.ts.
import { randomBytes } from 'node:crypto';
import {
  Jid, JidError, NS, SaslFailure, StanzaError, StreamError, XmlElement, errorReply, xml,
} from '@parley/protocol';
import type { Connection, StreamHeader } from '../net/connection';
import type { ParleyServer } from '../core/server';
import type { Session, SessionTransport } from '../core/sessions';
import type { AuthenticatedStream, ClientStream } from '../core/client-stream';
import type { Logger } from '../log';
import { SaslNegotiation } from './sasl-negotiation';
import { Sasl2Negotiation, failureElement } from './sasl2-negotiation';
import type { C2sSettings } from './c2s-settings';
import { StreamMachine, type Step, type StreamPolicy } from './stream-machine';
import { handOver, sessionInterrupted, type ResumableStream } from './resumption';

export class C2sSession implements StreamPolicy, ClientStream, AuthenticatedStream, ResumableStream {
  readonly id = randomBytes(8).toString('base64url');
  private moduleState: Map<string, unknown> | undefined;
  available = false;
  presence: XmlElement | undefined;
  priority = 0;
  interested = false;
  jid!: Jid;

  readonly machine: StreamMachine;
  readonly contentNamespace = NS.CLIENT;
  private username: string | undefined;
  private sasl: SaslNegotiation | undefined;
  private sasl2: Sasl2Negotiation | undefined;
  private bound = false;
  /** Ended because another cluster node resumed the session (XEP-0198). */
  private resumedElsewhere = false;
  /** RFC 6120 §4.7.4: the client's default language, stamped on its stanzas that carry none (§8.1.5). */
  lang: string | undefined;
  private logger: Logger | undefined;

  constructor(
    private readonly server: ParleyServer,
    conn: Connection,
    private readonly settings: C2sSettings,
  ) {
    this.machine = new StreamMachine(conn, this);
  }

  /** Per-module session state, allocated on first use (most idle sessions never need one). */
  get state(): Map<string, unknown> {
    return (this.moduleState ??= new Map());
  }

  get localDomain(): string {
    return this.server.domain;
  }

  /** The transport now: replaced when the session resumes on another stream's (XEP-0198 §5). */
  private get conn(): Connection {
    return this.machine.connection;
  }

  /** Created on first use: a child logger per idle session would cost memory for nothing. */
  get log(): Logger {
    return (this.logger ??= this.server.log.child({ c2s: this.id, ip: this.conn.remoteAddress, jid: this.bound ? this.jid.toString() : undefined }));
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  get secure(): boolean {
    return this.conn.secure;
  }

  get transport(): SessionTransport {
    return this.conn.transport;
  }

  get isDetached(): boolean {
    return this.machine.isDetached;
  }

  /** The authenticated account (bare JID). */
  get account(): Jid {
    if (this.username === undefined) throw new Error('the stream is not authenticated');
    return Jid.of(this.username, this.server.domain);
  }

  // ---- the policy: what the stream machine asks ----

  // RFC 6120 §4.7: a client stream is addressed to our domain; its language is kept for its stanzas.
  checkHeader({ attrs }: StreamHeader): StreamError | undefined {
    if (attrs.to !== undefined) {
      const to = Jid.tryParse(attrs.to);
      if (!to || to.domain !== this.server.domain || !to.isDomain) return new StreamError('host-unknown');
    }
    const lang = attrs['xml:lang'];
    if (lang !== undefined && LANGUAGE_TAG.test(lang)) this.lang = lang;
    return undefined;
  }

  async features(): Promise<XmlElement[]> {
    return this.username === undefined ? this.negotiationFeatures() : this.authenticatedFeatures();
  }

  async handle(el: XmlElement, state: 'features' | 'established'): Promise<Step> {
    if (state === 'established') return this.handleStanza(el);
    return this.username === undefined ? this.handleNegotiation(el) : this.handleBind(el);
  }

  async established(): Promise<void> {
    this.logger = undefined;
    await this.server.hooks.fire('session/bound', { session: this });
  }

  interrupted(): boolean | Promise<boolean> {
    return sessionInterrupted(this.server, this);
  }

  ended(reason: string | undefined): void {
    if (this.bound && this.server.sessions.remove(this)) {
      void this.server.hooks.fire('session/closed', { session: this, error: reason, resumedElsewhere: this.resumedElsewhere }).catch((err) => {
        this.log.error({ err }, 'session/closed handler failed');
      });
    }
  }

  private negotiationFeatures(): XmlElement[] {
    const features: XmlElement[] = [];
    const tlsRequired = this.settings.requireTls && !this.conn.secure;
    if (this.conn.canStartTls) {
      features.push(xml('starttls', { xmlns: NS.TLS }, tlsRequired ? xml('required') : null));
    }
    // RFC 6120 §5.3.1: with TLS mandatory, SASL is offered only after it.
    if (!tlsRequired || !this.conn.canStartTls) {
      const mechanisms = this.saslNegotiation().offered();
      if (mechanisms.length > 0) {
        features.push(xml('mechanisms', { xmlns: NS.SASL }, ...mechanisms.map((m) => xml('mechanism', null, m))));
      }
      // XEP-0388: SASL2 next to the classic profile, with the same mechanisms under the same TLS policy.
      const sasl2 = this.server.c2s.inline.isSasl2Offered ? this.sasl2Negotiation().feature() : undefined;
      if (sasl2) features.push(sasl2);
      const cbTypes = this.saslNegotiation().channelBindingTypes();
      if (cbTypes.length > 0) {
        features.push(xml('sasl-channel-binding', { xmlns: NS.SASL_CB }, ...cbTypes.map((type) => xml('channel-binding', { type }))));
      }
      if (this.settings.registrationOpen) features.push(xml('register', { xmlns: NS.REGISTER_FEATURE }));
    }
    return features;
  }

  /** Features of an authenticated stream: resource binding until one is bound (XEP-0386 binds during SASL2). */
  private async authenticatedFeatures(): Promise<XmlElement[]> {
    const features: XmlElement[] = [];
    if (!this.bound) {
      features.push(xml('bind', { xmlns: NS.BIND }));
      // RFC 3921 session establishment, kept for old clients and marked optional (RFC 6121 Appendix E).
      features.push(xml('session', { xmlns: NS.SESSION }, xml('optional')));
    }
    const event = { session: this as Session, features: [] as XmlElement[] };
    // Awaited: a handler that adds its feature after an await must still be heard.
    await this.server.hooks.fire('stream/features', event);
    features.push(...event.features);
    return features;
  }

  private saslNegotiation(): SaslNegotiation {
    return (this.sasl ??= new SaslNegotiation(this.server, this.conn, this.settings));
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

  private async handleNegotiation(el: XmlElement): Promise<Step> {
    const ns = el.attrs.xmlns;
    // XEP-0388 §2.4: during a SASL2 exchange only <response/> and <abort/> may come; anything else ends the stream.
    if (this.sasl2?.inProgress && !(ns === NS.SASL2 && (el.name === 'response' || el.name === 'abort'))) {
      throw new StreamError('policy-violation', 'only <response/> or <abort/> while authenticating');
    }
    if (ns === NS.SASL2 && this.server.c2s.inline.isSasl2Offered) return this.handleSasl2(el);
    if (el.name === 'starttls' && ns === NS.TLS) {
      if (!this.conn.canStartTls) throw new StreamError('unsupported-feature', 'TLS is not available');
      return 'starttls';
    }
    if (ns === NS.SASL && (el.name === 'auth' || el.name === 'response' || el.name === 'abort')) {
      if (this.settings.requireTls && !this.conn.secure && this.conn.canStartTls) {
        this.conn.send(new SaslFailure('encryption-required').toElement().toString());
        return;
      }
      const outcome = await this.saslNegotiation().handle(el);
      this.conn.send(outcome.reply.toString());
      if (outcome.username !== undefined) {
        this.username = outcome.username;
        this.sasl = this.sasl2 = undefined; // one authentication per stream (RFC 6120 §6.4.6)
        return 'restart';
      }
      if (outcome.disconnect) throw new StreamError('policy-violation', 'too many failed authentication attempts');
      return;
    }
    if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT)) {
      // XEP-0077 §3: registration happens before authentication, over TLS when TLS is required.
      if (!this.settings.requireTls || this.conn.secure) {
        const reply = await this.server.c2s.handlePreAuthIq(el, this);
        if (reply) {
          this.conn.send(reply.toString());
          return;
        }
      }
      if (el.attrs.type === 'get' || el.attrs.type === 'set') {
        this.conn.send(errorReply(el, new StanzaError('not-authorized')).toString());
        return;
      }
    }
    throw new StreamError('not-authorized', 'authenticate first');
  }

  // XEP-0388: no stream restart after SASL2's <success/> (§2.6.1): the features of the authenticated stream follow
  // at once, and a stream Bind 2 bound during authentication is established right away (XEP-0386).
  private async handleSasl2(el: XmlElement): Promise<Step> {
    if (this.settings.requireTls && !this.conn.secure && this.conn.canStartTls) {
      this.conn.send(failureElement(new SaslFailure('encryption-required')).toString());
      return;
    }
    const outcome = await this.sasl2Negotiation().handle(el);
    if (outcome.username === undefined) {
      this.conn.send(outcome.reply.toString());
      if (outcome.disconnect) throw new StreamError('policy-violation', 'too many failed authentication attempts');
      return;
    }
    this.username = outcome.username;
    this.sasl = this.sasl2 = undefined; // one authentication per stream (XEP-0388 §4.8)
    if (outcome.resumed) {
      // XEP-0198 inline: <success/> carries <resumed/>, then the earlier session goes on over this transport.
      if (!this.handOver(outcome.resumed.session)) throw new StreamError('undefined-condition', 'The session ended before it was resumed');
      this.conn.send(outcome.reply.toString());
      outcome.resumed.then();
      return;
    }
    if (outcome.bound) {
      this.jid = outcome.bound;
      this.bound = true;
    }
    const features = await this.authenticatedFeatures();
    // The transport may have gone while the features negotiated (storage awaits): nothing to establish then.
    if (this.machine.state === 'closed') return;
    // The session enters the table in the same tick as <success/> is written: nothing routed to it can come first.
    if (outcome.bound) this.server.sessions.add(this);
    this.conn.send(outcome.reply.toString());
    this.conn.send(xml('stream:features', null, ...features).toString());
    return outcome.bound ? 'established' : undefined;
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
    if (this.server.sessions.localSize >= this.settings.maxSessions) throw new SaslFailure('temporary-auth-failure', 'server full');
    this.jid = jid;
    return jid;
  }

  // RFC 6120 §7: resource binding; RFC 3921 §3: session establishment as a no-op.
  private async handleBind(el: XmlElement): Promise<Step> {
    if (el.name !== 'iq' || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.CLIENT)) {
      // A handler may have bound a resource itself (XEP-0198 resumption of a session another node held).
      if (await this.server.c2s.handlePreBindElement(el, this)) return this.bound ? 'established' : undefined;
      throw new StreamError('not-authorized', 'bind a resource first');
    }
    const bind = el.getChild('bind', NS.BIND);
    if (el.attrs.type !== 'set' || !bind) {
      if (el.attrs.type === 'get' || el.attrs.type === 'set') this.conn.send(errorReply(el, new StanzaError('not-authorized')).toString());
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
        this.conn.send(errorReply(el, new StanzaError('bad-request', err.message)).toString());
        return;
      }
    } else {
      do resource = randomBytes(6).toString('base64url');
      while (this.server.sessions.isResourceInUse(bare.toString(), resource));
      this.jid = bare.withResource(resource);
    }
    if (this.server.sessions.localSize >= this.settings.maxSessions) {
      this.conn.send(errorReply(el, new StanzaError('resource-constraint', 'server full')).toString());
      return;
    }
    this.server.sessions.add(this);
    this.bound = true;
    this.conn.send(
      xml('iq', { type: 'result', id: el.attrs.id }, xml('bind', { xmlns: NS.BIND }, xml('jid', null, this.jid.toString()))).toString(),
    );
    return 'established';
  }

  private async handleStanza(el: XmlElement): Promise<void> {
    const name = el.name;
    if ((name !== 'message' && name !== 'presence' && name !== 'iq') || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.CLIENT)) {
      if (el.attrs.xmlns === NS.SESSION || el.getChild('session', NS.SESSION)) return;
      if (await this.server.c2s.handleStreamElement(el, this)) return;
      throw new StreamError('unsupported-stanza-type', `<${name}/> is not a stanza`);
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
        throw new StreamError('invalid-from');
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


  // ---- the session: what the router and the modules see ----

  /** Queues a stanza for the client (written in one batch per tick by the connection). */
  send(stanza: XmlElement): void {
    if (this.machine.state === 'closed') return;
    // XEP-0352: a filter may hold the stanza back; it is released later, in order, through release().
    if (!this.server.c2s.isSentNow(stanza, this)) return;
    this.release(stanza);
  }

  release(stanza: XmlElement): void {
    if (this.machine.state === 'closed') return;
    if (this.server.hooks.has('session/sending')) this.server.hooks.emit('session/sending', { session: this, stanza }, this.server.hookFailed);
    // A hibernating session keeps what it is sent for the client to resume (XEP-0198 §5): a handler above queued it.
    this.machine.send(stanza.toString());
  }

  /** Resolves once what was written has reached the network (offline delivery paces its batches on it). */
  drained(): Promise<void> {
    // Detached (XEP-0198 hibernation) or closed: nothing is being written, so there is nothing to wait for.
    if (this.machine.state === 'closed' || this.machine.isDetached) return Promise.resolve();
    return this.conn.drained?.() ?? Promise.resolve();
  }

  /** Writes pre-serialised XML (fan-out serialises once for many recipients). */
  sendRaw(xmlText: string): void {
    this.machine.send(xmlText);
  }

  sendNonza(el: XmlElement): void {
    this.machine.send(el.toString());
  }

  resend(xmlText: string): void {
    this.machine.send(xmlText);
  }

  close(error?: StreamError): void {
    this.machine.close(error);
  }

  closeResumedElsewhere(): void {
    this.resumedElsewhere = true;
    this.machine.close(this.isDetached ? undefined : new StreamError('conflict', 'The session was resumed on another connection'));
  }

  handOver(session: ClientStream): boolean {
    return handOver(this, session);
  }

  bindResumed(jid: Jid): ClientStream | undefined {
    if (this.bound || !jid.bare().equals(this.account) || jid.resource === undefined) throw new Error('only an unbound stream binds a resource of its own account');
    if (this.machine.state === 'closed' || this.server.sessions.localSize >= this.settings.maxSessions) return undefined;
    this.jid = jid;
    this.server.sessions.add(this);
    this.bound = true;
    return this;
  }

  /** XEP-0198 §5: this session goes on where `from` was; it takes over what the client declared on that stream. */
  continueFrom(from: ResumableStream): void {
    this.lang = from.lang;
    this.logger = undefined;
    if (this.server.hooks.has('session/resumed')) this.server.hooks.emit('session/resumed', { session: this }, this.server.hookFailed);
  }

  get isAuthenticated(): boolean {
    return this.username !== undefined;
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
