// An outgoing server-to-server stream (RFC 6120, initiating side) to one remote domain: the policy the stream machine
// calls for a jabber:server stream we opened. It negotiates STARTTLS (always: RFC 7590), then authenticates each of
// our domains that has something to send — by SASL EXTERNAL (RFC 6120 §6, XEP-0178) when the peer offers it (it does
// when our certificate validates there), else by server dialback (XEP-0220), several of our domains on one stream
// (piggybacking, §2.4/§3). It also carries db:verify requests for incoming streams we are checking (§2.1.2): those
// may go as soon as TLS is up, authenticated or not. Queueing and bouncing are core/s2s-manager.ts's.
import { Jid, NS, StanzaError, StreamError, xml, type XmlElement } from '@parley/protocol';
import type { StreamHeader } from '../net/connection';
import type { SocketConnection } from '../net/socket-connection';
import type { Logger } from '../log';
import { certificateNames, dialbackElement, isDialback, NS_DIALBACK, NS_DIALBACK_FEATURE } from './dialback';
import { StreamMachine, type Step, type StreamPolicy } from './stream-machine';

export interface OutgoingSettings {
  auth: 'any' | 'external';
  requireValidCertificates: boolean;
  /** XEP-0185 key for (receiving = remote, originating = one of ours, stream id). */
  dialbackKey(receiving: string, originating: string, streamId: string): string;
}

export interface OutgoingEvents {
  /** `local` may now send to the remote domain on this stream. */
  authenticated(local: string): void;
  /** Authenticating `local` failed for good (the stream may go on for other domains). */
  refused(local: string, error: StanzaError): void;
  /** TLS is up and features were read: db:verify requests may go now. */
  ready(): void;
  ended(reason: string | undefined): void;
}

type VerifyAnswer = 'valid' | 'invalid';

export class S2sOutgoingStream implements StreamPolicy {
  readonly contentNamespace = NS.SERVER;
  readonly machine: StreamMachine;
  readonly log: Logger;
  /** Our domains authenticated on this stream (may send from them). */
  readonly authenticated = new Set<string>();
  private readonly pending = new Set<string>();
  /** Dialback offered (feature, or xmlns:db on the peer's header). */
  private dialbackOffered = false;
  private externalOffered = false;
  private saslInProgress: string | undefined;
  /** SASL EXTERNAL succeeded for this domain; it may send once the restarted stream's features arrived. */
  private saslSucceeded: string | undefined;
  private isReady = false;
  private readonly verifies = new Map<string, { resolve(v: VerifyAnswer): void; reject(e: Error): void }>();
  private readonly wanted: string[] = [];

  constructor(
    readonly localDomain: string,
    readonly initiatingTo: string,
    readonly conn: SocketConnection,
    private readonly settings: OutgoingSettings,
    private readonly events: OutgoingEvents,
    log: Logger,
  ) {
    this.log = log.child({ s2s_out: initiatingTo });
    this.machine = new StreamMachine(conn, this);
  }

  get ready(): boolean {
    return this.isReady;
  }

  start(): void {
    this.machine.open();
  }

  // XEP-0220 §2.1.1: the initiating server declares the dialback namespace on its header when it may use dialback.
  // COMPAT(ejabberd): ejabberd 23.01 ignores a <db:result/> (no answer, no error) on a stream whose header lacked it.
  headerNamespaces(): Record<string, string> {
    return this.settings.auth === 'any' ? { 'xmlns:db': NS_DIALBACK } : {};
  }

  checkHeader(header: StreamHeader): StreamError | undefined {
    // XEP-0220 §2.1.1: a server that speaks dialback declares its namespace on the header.
    if (Object.entries(header.attrs).some(([k, v]) => k.startsWith('xmlns:') && v === NS_DIALBACK)) this.dialbackOffered = true;
    return undefined;
  }

  features(): Promise<XmlElement[]> {
    return Promise.resolve([]); // we initiated: the peer sends the features
  }

  /** Asks to send from `local` (one of our domains): authenticated at once if possible, else when ready. */
  authenticate(local: string): void {
    if (this.authenticated.has(local) || this.pending.has(local)) return;
    if (!this.isReady) {
      if (!this.wanted.includes(local)) this.wanted.push(local);
      return;
    }
    this.pending.add(local);
    // XEP-0178: SASL EXTERNAL authenticates the stream's own 'from' domain, before anything else is sent.
    if (this.externalOffered && local === this.localDomain && this.authenticated.size === 0 && this.saslInProgress === undefined) {
      this.saslInProgress = local;
      // RFC 6120 §6.4.2 / XEP-0178 §3: the authorization identity is our domain.
      this.machine.send(xml('auth', { xmlns: NS.SASL, mechanism: 'EXTERNAL' }, Buffer.from(local, 'utf8').toString('base64')).toString());
      return;
    }
    if (this.settings.auth === 'external' || !this.dialbackOffered) {
      this.pending.delete(local);
      this.events.refused(local, new StanzaError('remote-server-not-found', `${this.initiatingTo} accepts neither our certificate nor dialback`));
      return;
    }
    const streamId = this.machine.peerStreamId ?? '';
    // XEP-0220 §2.1.1: the key, made for the receiving domain, our domain and the stream id the peer gave us.
    const key = this.settings.dialbackKey(this.initiatingTo, local, streamId);
    this.machine.send(dialbackElement('result', { from: local, to: this.initiatingTo }, key).toString());
  }

  /** XEP-0220 §2.1.2: asks the authoritative server whether it made `key` for (`local`, `remote`'s stream `id`). */
  verify(local: string, id: string, key: string): Promise<VerifyAnswer> {
    return new Promise((resolve, reject) => {
      const k = `${local}|${id}`;
      this.verifies.get(k)?.reject(new Error('superseded'));
      this.verifies.set(k, { resolve, reject });
      const send = () => this.machine.send(dialbackElement('verify', { from: local, to: this.initiatingTo, id }, key).toString());
      if (this.isReady) send();
      else this.afterReady.push(send);
    });
  }

  private readonly afterReady: (() => void)[] = [];

  async handle(el: XmlElement, state: 'features' | 'established'): Promise<Step> {
    if (el.name === 'stream:features' || (el.name === 'features' && el.attrs.xmlns === NS.STREAM)) return this.onFeatures(el);
    if (el.attrs.xmlns === NS.TLS) {
      if (el.name === 'proceed') return 'starttls';
      throw new StreamError('undefined-condition', 'STARTTLS failed');
    }
    if (el.attrs.xmlns === NS.SASL) return this.onSasl(el);
    if (isDialback(el, 'result')) return this.onResult(el);
    if (isDialback(el, 'verify')) return this.onVerify(el);
    void state;
    // RFC 6120 §8: a peer may send stanzas only on its own outgoing stream; this one is ours.
    throw new StreamError('unsupported-stanza-type', `<${el.name}/> on our outgoing stream`);
  }

  private onFeatures(features: XmlElement): Step {
    const tls = features.getChild('starttls', NS.TLS);
    if (!this.conn.secure) {
      // RFC 7590 §3: federation streams are encrypted; a peer without STARTTLS is not one we send to.
      if (!tls) throw new StreamError('policy-violation', 'STARTTLS is required');
      this.machine.send(xml('starttls', { xmlns: NS.TLS }).toString());
      return undefined;
    }
    const peer = this.conn.tlsPeer();
    const peerValid = peer?.authorized === true && certificateNames(this.initiatingTo, peer.certificate);
    if (!peerValid && (this.settings.requireValidCertificates || this.settings.auth === 'external')) {
      throw new StreamError('policy-violation', `the certificate of ${this.initiatingTo} does not validate (${peer?.authorizationError ?? 'wrong name'})`);
    }
    const mechanisms = features.getChild('mechanisms', NS.SASL)?.getChildren('mechanism').map((m) => m.text().trim()) ?? [];
    this.externalOffered = mechanisms.includes('EXTERNAL');
    if (features.getChild('dialback', NS_DIALBACK_FEATURE)) this.dialbackOffered = true;
    this.log.debug({ mechanisms, dialback: this.dialbackOffered, peerValid, tlsError: peer?.authorizationError }, 's2s outgoing features');
    const sasl = this.saslSucceeded;
    if (sasl !== undefined) {
      this.saslSucceeded = undefined;
      this.authenticated.add(sasl);
      this.log.info({ local: sasl, remote: this.initiatingTo, method: 'EXTERNAL' }, 's2s outgoing authenticated');
      this.events.authenticated(sasl);
    }
    const wasReady = this.isReady;
    this.isReady = true;
    if (!wasReady) {
      this.events.ready();
      for (const send of this.afterReady.splice(0)) send();
    }
    for (const local of this.wanted.splice(0)) this.authenticate(local);
    return this.authenticated.size > 0 ? 'established' : undefined;
  }

  private onSasl(el: XmlElement): Step {
    const local = this.saslInProgress;
    this.saslInProgress = undefined;
    if (local === undefined) throw new StreamError('not-authorized', 'unexpected SASL element');
    this.pending.delete(local);
    if (el.name === 'success') {
      this.externalOffered = false;
      // RFC 6120 §6.4.6: the stream restarts; stanzas wait for the new header (sent on restart) and the features
      // that follow, which also say what else is offered (dialback for piggybacked domains).
      this.saslSucceeded = local;
      return 'restart';
    }
    // XEP-0178 §3 failure: try dialback instead when allowed.
    this.externalOffered = false;
    this.authenticate(local);
    return undefined;
  }

  private onResult(el: XmlElement): Step {
    const local = el.attrs.to ?? '';
    if (!this.pending.has(local) || el.attrs.from !== this.initiatingTo) return undefined;
    this.pending.delete(local);
    const type = el.attrs.type;
    if (type === 'valid') {
      this.authenticated.add(local);
      this.log.info({ local, remote: this.initiatingTo, method: 'dialback' }, 's2s outgoing authenticated');
      this.events.authenticated(local);
      return 'established';
    }
    const condition = el.getChild('error')?.elements()[0]?.name;
    this.log.info({ local, remote: this.initiatingTo, type, condition }, 's2s dialback refused');
    this.events.refused(local, new StanzaError('remote-server-not-found', `${this.initiatingTo} refused ${local}: ${condition ?? type ?? 'invalid'}`));
    return undefined;
  }

  private onVerify(el: XmlElement): Step {
    const k = `${el.attrs.to ?? ''}|${el.attrs.id ?? ''}`;
    const waiter = this.verifies.get(k);
    if (!waiter) return undefined;
    this.verifies.delete(k);
    waiter.resolve(el.attrs.type === 'valid' ? 'valid' : 'invalid');
    return undefined;
  }

  /** A stanza from an authenticated domain of ours. */
  send(stanza: XmlElement): void {
    this.machine.send(stanza.toString());
  }

  interrupted(): boolean {
    return false;
  }

  ended(reason: string | undefined): void {
    for (const w of this.verifies.values()) w.reject(new Error(reason ?? 'stream closed'));
    this.verifies.clear();
    this.events.ended(reason);
  }

  close(error?: StreamError): void {
    this.machine.close(error);
  }
}

export function domainOf(jid: string | undefined): string | undefined {
  return jid !== undefined ? Jid.tryParse(jid)?.domain : undefined;
}
