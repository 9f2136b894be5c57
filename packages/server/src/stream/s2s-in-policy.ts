// An incoming server-to-server stream (RFC 6120, receiving side): the policy the stream machine calls for a
// jabber:server stream another server opened to us. STARTTLS is required (RFC 7590); then the peer authenticates
// its domains by SASL EXTERNAL (RFC 6120 §6, XEP-0178: offered only when its certificate validates for the domain
// of its header) or by server dialback (XEP-0220: we ask its authoritative server over our outgoing stream, without
// holding this stream's queue, since that server may be asking us the same at the same moment). Several domains may
// be authenticated on one stream (piggybacking). We also answer db:verify for keys we made (we are authoritative
// for our domains). Stanzas are accepted only from an authenticated domain (invalid-from otherwise, RFC 6120
// §4.9.3.9) and only to a domain we host.
import { Jid, NS, StanzaError, StreamError, errorReply, xml, type XmlElement } from '@parley/protocol';
import type { StreamHeader } from '../net/connection';
import type { SocketConnection } from '../net/socket-connection';
import type { Logger } from '../log';
import { certificateNames, dialbackElement, dialbackError, isDialback, keysEqual, NS_DIALBACK, NS_DIALBACK_FEATURE } from './dialback';
import { StreamMachine, type Step, type StreamPolicy } from './stream-machine';
import { validateStanza } from './c2s-session';
import type { StanzaEvent } from '../core/events';
import { setTimeout as delay } from 'node:timers/promises';

export interface IncomingContext {
  readonly auth: 'any' | 'external';
  readonly requireValidCertificates: boolean;
  readonly mainDomain: string;
  isHosted(domain: string): boolean;
  /** Allow and deny lists (s2s.allow, s2s.deny). */
  mayFederate(domain: string): boolean;
  dialbackKey(receiving: string, originating: string, streamId: string): string;
  /** XEP-0220 §2.1.2: asks `remote`'s authoritative server whether it made `key` for `local` and stream `id`. */
  verify(local: string, remote: string, id: string, key: string): Promise<'valid' | 'invalid'>;
  route(stanza: XmlElement, origin: StanzaEvent['origin']): Promise<void>;
  /** s2s.max_bytes_per_second: charges `bytes` read from `domain`; milliseconds to wait before reading on. */
  throttle(domain: string, bytes: number): number;
  authenticated(stream: S2sIncomingStream, domain: string): void;
  ended(stream: S2sIncomingStream): void;
}

export class S2sIncomingStream implements StreamPolicy {
  readonly contentNamespace = NS.SERVER;
  readonly machine: StreamMachine;
  readonly log: Logger;
  /** Remote domains authenticated on this stream. */
  readonly domains = new Set<string>();
  /** How each of them authenticated. */
  readonly methods = new Map<string, 'EXTERNAL' | 'dialback'>();
  /** The domain of the peer's header ('from'), the one SASL EXTERNAL authenticates. */
  private peerDomain: string | undefined;
  private toDomain: string | undefined;
  private saslDone = false;
  /** Bytes of the connection already charged to a domain's read budget. */
  private charged = 0;

  constructor(
    readonly conn: SocketConnection,
    private readonly ctx: IncomingContext,
    log: Logger,
  ) {
    this.log = log.child({ s2s_in_ip: conn.remoteAddress });
    this.directTlsValue = conn.secure;
    this.machine = new StreamMachine(conn, this);
  }

  private readonly directTlsValue: boolean;

  /** XEP-0368: TLS from the first byte (the direct TLS listener), not STARTTLS. */
  get directTls(): boolean {
    return this.directTlsValue;
  }

  get localDomain(): string {
    return this.toDomain ?? this.ctx.mainDomain;
  }

  // RFC 6120 §4.7.1: our header's 'from' is the domain the peer asked for.
  headerFrom(peer: Record<string, string | undefined>): string | undefined {
    const to = peer.to !== undefined ? Jid.tryParse(peer.to) : undefined;
    return to?.isDomain && this.ctx.isHosted(to.domain) ? to.domain : undefined;
  }

  checkHeader({ attrs }: StreamHeader): StreamError | undefined {
    // RFC 6120 §4.9.3.6: a 'to' we do not host is host-unknown.
    const to = attrs.to !== undefined ? Jid.tryParse(attrs.to) : undefined;
    if (!to?.isDomain || !this.ctx.isHosted(to.domain)) return new StreamError('host-unknown');
    this.toDomain = to.domain;
    const from = attrs.from !== undefined ? Jid.tryParse(attrs.from) : undefined;
    if (from?.isDomain) {
      if (!this.ctx.mayFederate(from.domain)) return new StreamError('policy-violation', `federation with ${from.domain} is not allowed`);
      this.peerDomain = from.domain;
    }
    return undefined;
  }

  private peerCertificateValid(domain: string | undefined): boolean {
    if (domain === undefined) return false;
    const peer = this.conn.tlsPeer();
    this.log.debug({ domain, authorized: peer?.authorized, error: peer?.authorizationError, subject: peer?.certificate?.subjectaltname }, 's2s incoming peer certificate');
    return peer?.authorized === true && certificateNames(domain, peer.certificate);
  }

  private get dialbackAllowed(): boolean {
    return this.ctx.auth === 'any' && !this.ctx.requireValidCertificates;
  }

  // XEP-0220 §2.2.1: the receiving server declares the dialback namespace on its response header when it speaks it.
  headerNamespaces(): Record<string, string> {
    return this.dialbackAllowed ? { 'xmlns:db': NS_DIALBACK } : {};
  }

  features(): Promise<XmlElement[]> {
    // RFC 7590 §3: encryption first, required.
    if (!this.conn.secure) return Promise.resolve([xml('starttls', { xmlns: NS.TLS }, xml('required'))]);
    const out: XmlElement[] = [];
    // XEP-0178 §3: EXTERNAL only when the certificate validates for the domain the peer claims.
    if (!this.saslDone && this.peerCertificateValid(this.peerDomain)) {
      out.push(xml('mechanisms', { xmlns: NS.SASL }, xml('mechanism', null, 'EXTERNAL')));
    }
    // XEP-0220 §2.4 / §6: dialback with error support.
    if (this.dialbackAllowed) out.push(xml('dialback', { xmlns: NS_DIALBACK_FEATURE }, xml('errors')));
    return Promise.resolve(out);
  }

  async handle(el: XmlElement): Promise<Step> {
    const ns = el.attrs.xmlns;
    if (ns === NS.TLS) {
      if (el.name !== 'starttls' || this.conn.secure) throw new StreamError('policy-violation', 'STARTTLS is not available now');
      return 'starttls';
    }
    if (!this.conn.secure) throw new StreamError('policy-violation', 'STARTTLS is required first');
    if (ns === NS.SASL) return this.sasl(el);
    if (isDialback(el, 'result')) return this.dialbackResult(el);
    if (isDialback(el, 'verify')) return this.dialbackVerify(el);
    return this.stanza(el);
  }

  // RFC 6120 §6.4 with XEP-0178: EXTERNAL, the authorization identity (if any) being the peer's header domain.
  private sasl(el: XmlElement): Step {
    if (el.name !== 'auth' || el.attrs.mechanism !== 'EXTERNAL' || this.saslDone) {
      this.machine.send(xml('failure', { xmlns: NS.SASL }, xml('invalid-mechanism')).toString());
      return undefined;
    }
    const text = el.text().trim();
    const authzid = text === '' || text === '=' ? this.peerDomain : Buffer.from(text, 'base64').toString('utf8');
    if (authzid === undefined || authzid !== this.peerDomain || !this.peerCertificateValid(authzid)) {
      this.log.info({ domain: authzid }, 's2s SASL EXTERNAL refused');
      this.machine.send(xml('failure', { xmlns: NS.SASL }, xml('not-authorized')).toString());
      return undefined;
    }
    this.saslDone = true;
    this.accept(authzid, 'EXTERNAL');
    this.machine.send(xml('success', { xmlns: NS.SASL }).toString());
    return 'restart';
  }

  private accept(domain: string, method: 'EXTERNAL' | 'dialback'): void {
    this.domains.add(domain);
    this.methods.set(domain, method);
    this.log.info({ remote: domain, local: this.toDomain, method }, 's2s incoming authenticated');
    this.ctx.authenticated(this, domain);
  }

  // XEP-0220 §2.1.2: the originating server's key, checked with its authoritative server; the answer is sent
  // when it comes, while this stream goes on (another domain may be piggybacked meanwhile).
  private dialbackResult(el: XmlElement): Step {
    const from = el.attrs.from !== undefined ? Jid.tryParse(el.attrs.from) : undefined;
    const to = el.attrs.to !== undefined ? Jid.tryParse(el.attrs.to) : undefined;
    const attrs = { from: el.attrs.to, to: el.attrs.from };
    const fail = (error: StanzaError) => this.machine.send(dialbackError('result', attrs, error).toString());
    // XEP-0220 §2.4: the errors a receiving server answers a request with.
    if (!from?.isDomain || !to?.isDomain) return fail(new StanzaError('bad-request'));
    if (!this.ctx.isHosted(to.domain)) return fail(new StanzaError('item-not-found'));
    if (!this.dialbackAllowed || !this.ctx.mayFederate(from.domain)) return fail(new StanzaError('policy-violation'));
    const id = this.machine.streamId ?? '';
    this.ctx
      .verify(to.domain, from.domain, id, el.text().trim())
      .then(
        (answer) => {
          if (this.machine.state === 'closed') return;
          if (answer === 'valid') this.accept(from.domain, 'dialback');
          else this.log.info({ remote: from.domain }, 's2s dialback key invalid');
          this.machine.send(dialbackElement('result', { ...attrs, type: answer }).toString());
        },
        (err: Error) => {
          this.log.info({ remote: from.domain, err: err.message }, 's2s dialback: authoritative server not reached');
          fail(new StanzaError('remote-server-not-found', err.message));
        },
      );
    return undefined;
  }

  // XEP-0220 §2.2: we are the authoritative server; the key is ours if we made it for (receiving, us, id).
  private dialbackVerify(el: XmlElement): Step {
    const attrs = { from: el.attrs.to, to: el.attrs.from, id: el.attrs.id };
    const local = el.attrs.to;
    const receiving = el.attrs.from;
    if (local === undefined || receiving === undefined || el.attrs.id === undefined) {
      this.machine.send(dialbackError('verify', attrs, new StanzaError('bad-request')).toString());
      return undefined;
    }
    if (!this.ctx.isHosted(local)) {
      this.machine.send(dialbackError('verify', attrs, new StanzaError('item-not-found')).toString());
      return undefined;
    }
    const expected = this.ctx.dialbackKey(receiving, local, el.attrs.id);
    const type = keysEqual(el.text(), expected) ? 'valid' : 'invalid';
    this.machine.send(dialbackElement('verify', { ...attrs, type }).toString());
    return undefined;
  }

  private async stanza(el: XmlElement): Promise<Step> {
    const name = el.name;
    if ((name !== 'message' && name !== 'presence' && name !== 'iq') || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.SERVER)) {
      throw new StreamError('unsupported-stanza-type', `<${name}/> is not a stanza`);
    }
    delete el.attrs.xmlns;
    if (this.domains.size === 0) throw new StreamError('not-authorized', 'authenticate first');
    // RFC 6120 §4.9.3.9 / §8.1.2.1: a server may only send from a domain it authenticated on this stream.
    const from = el.attrs.from !== undefined ? Jid.tryParse(el.attrs.from) : undefined;
    if (!from || !this.domains.has(from.domain)) throw new StreamError('invalid-from', `not an authenticated domain of this stream`);
    // The sending domain pays for what was read since the last stanza (dialback and all); over its budget this stream
    // waits before the next element is read, and the machine pauses the socket once its small queue is full. Only an
    // authenticated domain is charged: a header's claim must not spend someone else's budget.
    const read = this.conn.bytesReceived;
    const wait = this.ctx.throttle(from.domain, read - this.charged);
    this.charged = read;
    await this.deliver(el, from);
    if (wait > 0) await delay(wait);
    return undefined;
  }

  private async deliver(el: XmlElement, from: Jid): Promise<void> {
    const name = el.name;
    const to = el.attrs.to !== undefined ? Jid.tryParse(el.attrs.to) : undefined;
    // RFC 6120 §4.9.3.7: a server-to-server stanza must be addressed.
    if (el.attrs.to === undefined) throw new StreamError('improper-addressing', "a stanza without 'to'");
    const invalid = !to ? new StanzaError('jid-malformed') : !this.ctx.isHosted(to.domain) ? new StanzaError('not-allowed', 'this server does not relay') : validateStanza(el);
    if (invalid) {
      if (el.attrs.type !== 'error' && !(name === 'iq' && el.attrs.type === 'result')) {
        const reply = errorReply(el, invalid, name !== 'iq');
        // Server-to-server streams are one-way (RFC 6120 §4.2): the error goes back over our outgoing stream.
        reply.attrs.from = this.localDomain;
        await this.ctx.route(reply, { kind: 'local' });
      }
      return;
    }
    el.attrs.from = from.toString();
    el.attrs.to = to!.toString();
    await this.ctx.route(el, { kind: 'remote', domain: from.domain });
  }

  interrupted(): boolean {
    return false;
  }

  ended(reason: string | undefined): void {
    this.log.debug({ remotes: [...this.domains], reason }, 's2s incoming stream ended');
    this.ctx.ended(this);
  }

  close(error?: StreamError): void {
    this.machine.close(error);
  }
}

export { NS_DIALBACK };
