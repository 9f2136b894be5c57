// An external component's stream (XEP-0114 Jabber Component Protocol): the policy the stream machine calls for a
// jabber:component:accept stream. The component opens a versionless stream to its domain (§3), proves that it
// knows the shared secret with <handshake/> — SHA-1 of our stream id and the secret, in hex — and then exchanges
// stanzas in the server's name for its whole domain. Routing to it is core/components.ts; the listener and its
// limits are net/component-listener.ts.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Jid, NS, StanzaError, StreamError, type XmlElement, errorReply, xml } from '@parley/protocol';
import type { Connection, StreamHeader } from '../net/connection';
import type { ParleyServer } from '../core/server';
import type { ComponentStream } from '../core/components';
import type { Logger } from '../log';
import type { IpRateLimiter } from './rate-limiter';
import { StreamMachine, type Step, type StreamPolicy } from './stream-machine';
import { validateStanza } from './c2s-session';

export interface ComponentSettings {
  /** Handshakes per IP address per minute (components.auth_attempts_per_minute). */
  authLimiter: IpRateLimiter;
  /** A stream not authenticated after this long is closed (components.handshake_timeout_s). */
  handshakeTimeoutMs: number;
}

/** XEP-0114 §3: the handshake's content, hex(SHA-1(stream id ‖ secret)), lowercase. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

export class ComponentSession implements StreamPolicy, ComponentStream {
  readonly contentNamespace = NS.COMPONENT;
  readonly versionless = true;
  readonly machine: StreamMachine;
  readonly log: Logger;
  /** The domain the component asked for in its header; its own once the handshake succeeded. */
  domain = '';
  connectedAt = 0;
  private authenticated = false;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(
    private readonly server: ParleyServer,
    conn: Connection,
    private readonly settings: ComponentSettings,
  ) {
    this.log = server.log.child({ component_ip: conn.remoteAddress });
    this.machine = new StreamMachine(conn, this);
    this.handshakeTimer = setTimeout(() => {
      if (!this.authenticated) this.machine.close(new StreamError('connection-timeout', 'no handshake in time'));
    }, settings.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  get localDomain(): string {
    return this.server.domain;
  }

  get remoteAddress(): string {
    return this.machine.connection.remoteAddress;
  }

  // XEP-0114 §3: our header's 'from' is the component's domain, the stream being the server's side of it.
  headerFrom(peer: Record<string, string | undefined>): string | undefined {
    const to = peer.to !== undefined ? Jid.tryParse(peer.to) : undefined;
    return to?.isDomain ? to.domain : undefined;
  }

  // XEP-0114 §3: 'to' names the component; a domain we were not configured for is host-unknown (RFC 6120 §4.9.3.6).
  checkHeader({ attrs }: StreamHeader): StreamError | undefined {
    if (attrs.to === undefined) return new StreamError('improper-addressing', "the component's domain is missing ('to')");
    const to = Jid.tryParse(attrs.to);
    if (!to?.isDomain || !this.server.components.isConfigured(to.domain)) return new StreamError('host-unknown');
    this.domain = to.domain;
    return undefined;
  }

  features(): Promise<XmlElement[]> {
    return Promise.resolve([]); // never asked: the stream is versionless
  }

  handle(el: XmlElement, state: 'features' | 'established'): Promise<Step> {
    if (state === 'features') return Promise.resolve(this.handshake(el));
    return this.handleStanza(el).then(() => undefined);
  }

  interrupted(): boolean {
    return false; // no stream resumption for components
  }

  ended(reason: string | undefined): void {
    clearTimeout(this.handshakeTimer);
    if (this.authenticated) {
      this.server.components.detach(this);
      this.log.debug({ component: this.domain, reason }, 'component stream ended');
    }
  }

  // XEP-0114 §3: <handshake>hex(SHA-1(id + secret))</handshake>, answered with an empty <handshake/>; a wrong one is
  // the stream error not-authorized. The digest is never logged (it is replayable for this stream id).
  private handshake(el: XmlElement): Step {
    if (el.name !== 'handshake' || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.COMPONENT)) {
      throw new StreamError('not-authorized', 'handshake first');
    }
    if (!this.settings.authLimiter.hit(this.remoteAddress)) {
      throw new StreamError('policy-violation', 'too many handshakes from this address');
    }
    const secret = this.server.components.secretOf(this.domain);
    const streamId = this.machine.streamId;
    if (secret === undefined || streamId === undefined) throw new StreamError('host-unknown');
    const expected = Buffer.from(handshakeDigest(streamId, secret), 'utf8');
    const given = Buffer.from(el.text().trim().toLowerCase(), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.log.info({ component: this.domain }, 'component handshake failed');
      throw new StreamError('not-authorized');
    }
    clearTimeout(this.handshakeTimer);
    this.authenticated = true;
    this.connectedAt = Date.now();
    // In the routing table before <handshake/> leaves: nothing routed to the component once it knows it is
    // connected can find it absent.
    this.server.components.attach(this);
    this.machine.send(xml('handshake').toString());
    return 'established';
  }

  private async handleStanza(el: XmlElement): Promise<void> {
    const name = el.name;
    if ((name !== 'message' && name !== 'presence' && name !== 'iq') || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.COMPONENT)) {
      throw new StreamError('unsupported-stanza-type', `<${name}/> is not a stanza`);
    }
    delete el.attrs.xmlns;
    // The component speaks for its domain and nothing else (XEP-0114 §1): a 'from' elsewhere is RFC 6120
    // §4.9.3.9 invalid-from, as Prosody and ejabberd answer it.
    const claimed = el.attrs.from;
    if (claimed === undefined) {
      // COMPAT(components): some omit 'from'; Prosody stamps the component's domain, and so do we.
      el.attrs.from = this.domain;
    } else {
      const from = Jid.tryParse(claimed);
      if (!from || from.domain !== this.domain) throw new StreamError('invalid-from', `not an address of ${this.domain}`);
      el.attrs.from = from.toString();
    }
    // RFC 6120 §4.9.3.7: a server-side entity must address its stanzas; there is no "own account" to default to.
    if (el.attrs.to === undefined) throw new StreamError('improper-addressing', "a stanza without 'to'");
    const to = Jid.tryParse(el.attrs.to);
    const invalid = to ? validateStanza(el) : new StanzaError('jid-malformed');
    if (invalid) {
      if (el.attrs.type !== 'error') {
        const reply = errorReply(el, invalid, name !== 'iq');
        reply.attrs.from = this.domain;
        this.send(reply);
      }
      return;
    }
    el.attrs.to = to!.toString();
    await this.server.router.route(el, { kind: 'component', domain: this.domain });
  }

  /** A stanza for the component, with the component's content namespace (the stream's default). */
  send(stanza: XmlElement): void {
    this.machine.send(stanza.toString());
  }

  close(error?: StreamError): void {
    this.machine.close(error);
  }
}
