// Federation (RFC 6120 server-to-server): the router's route to remote domains. One outgoing stream per remote
// domain, shared by our domain and its services (dialback piggybacking, XEP-0220 §3); stanzas wait in a bounded
// queue per domain while it is found (net/s2s-resolve.ts), connected, secured and authenticated, then leave in
// order; when that fails they bounce (RFC 6120 §8.3.3: remote-server-not-found, remote-server-timeout). A stream
// that died is forgotten, so the next stanza builds a new one; idle streams close. Incoming streams are
// stream/s2s-in-policy.ts, outgoing ones stream/s2s-out-policy.ts; the listener is net/s2s-listener.ts.
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { StanzaError, StreamError, type XmlElement } from '@parley/protocol';
import type { RemoteRoute } from './router';
import type { StanzaEvent } from './events';
import type { ParleyServer } from './server';
import type { Logger } from '../log';
import { NoXmppService, S2sResolver } from '../net/s2s-resolve';
import { SocketConnection } from '../net/socket-connection';
import { dialbackKey } from '../stream/dialback';
import { TokenBucket } from '../stream/token-bucket';
import { S2sOutgoingStream } from '../stream/s2s-out-policy';
import type { IncomingContext, S2sIncomingStream } from '../stream/s2s-in-policy';

export interface S2sSettings {
  auth: 'any' | 'external';
  requireValidCertificates: boolean;
  allow: string[];
  deny: string[];
  maxConnections: number;
  maxQueuedStanzas: number;
  /** Bytes (serialised) of the stanzas waiting per remote domain. */
  maxQueuedBytes: number;
  maxStanzaSize: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  dnsTimeoutMs: number;
  dnsServers: string[];
  staticRoutes: Record<string, string>;
  dialbackSecret: string | undefined;
  /** TLS client options for outgoing streams: our certificate (SASL EXTERNAL), trusted CAs, versions, ciphers. */
  tlsClient: ConnectionOptions;
  /** Bytes waiting for a peer that does not read, past which its stream ends. */
  maxSendBuffer: number;
  /** RFC 6120 §4.6.1: a whitespace keepalive on a stream we wrote nothing to for this long; 0: none. */
  whitespacePingMs: number;
  /** A connection whose peer took nothing of what waits for this long is dead; 0: never. */
  writeTimeoutMs: number;
  /** Bytes per second read from one remote domain, all its incoming streams together; 0: no limit. */
  maxBytesPerSecond: number;
}

/** Seconds of s2s.max_bytes_per_second a remote domain may send at once after a quiet spell. */
const BURST_SECONDS = 2;

interface Queued {
  stanza: XmlElement;
  from: string;
  bytes: number;
}

/** One remote domain: its outgoing stream (once connected) and what waits for it. */
class OutgoingLink {
  stream: S2sOutgoingStream | undefined;
  readonly queue: Queued[] = [];
  /** Serialised size of what is in `queue` (s2s.max_queued_bytes). */
  private queuedBytes = 0;
  private failed = false;
  private readonly deadline: NodeJS.Timeout;
  lastUsed = Date.now();

  constructor(
    readonly key: string,
    readonly domain: string,
    /** Our domain this stream is opened from (the 'from' of its header). */
    readonly local: string,
    private readonly manager: S2sManager,
  ) {
    // Connecting, securing and authenticating must finish in time, else what waits bounces (remote-server-timeout).
    this.deadline = setTimeout(() => {
      if (this.queue.length > 0 || !this.stream?.ready) this.fail(new StanzaError('remote-server-timeout', `${domain} did not answer in time`));
    }, manager.settings.connectTimeoutMs);
    this.deadline.unref();
  }

  get isDead(): boolean {
    return this.failed;
  }

  enqueue(stanza: XmlElement, from: string): void {
    this.lastUsed = Date.now();
    if (this.stream?.authenticated.has(from) && this.queue.length === 0) return this.stream.send(stanza);
    if (this.queue.length >= this.manager.settings.maxQueuedStanzas) {
      throw new StanzaError('resource-constraint', `too many stanzas waiting for ${this.domain}`);
    }
    // Counted in bytes too: a thousand stanzas of the largest size would otherwise be a quarter of a gigabyte.
    const bytes = Buffer.byteLength(stanza.toString());
    if (this.queuedBytes + bytes > this.manager.settings.maxQueuedBytes) {
      throw new StanzaError('resource-constraint', `too much waiting for ${this.domain}`);
    }
    this.queuedBytes += bytes;
    this.queue.push({ stanza, from, bytes });
    this.stream?.authenticate(from);
  }

  private readonly streamWaiters: { resolve(s: S2sOutgoingStream): void; reject(e: Error): void }[] = [];

  /** The stream once connected (for db:verify); rejects when the domain cannot be reached. */
  whenStream(): Promise<S2sOutgoingStream> {
    if (this.failed) return Promise.reject(new Error(`${this.domain} not reached`));
    if (this.stream) return Promise.resolve(this.stream);
    return new Promise((resolve, reject) => this.streamWaiters.push({ resolve, reject }));
  }

  attach(stream: S2sOutgoingStream): void {
    this.stream = stream;
    for (const w of this.streamWaiters.splice(0)) w.resolve(stream);
    for (const { from } of this.queue) stream.authenticate(from);
  }

  /** RFC 6120 §10.4: stanzas leave in the order they were routed; one whose domain is not authenticated yet waits. */
  flush(): void {
    const stream = this.stream;
    if (!stream) return;
    while (this.queue.length > 0 && stream.authenticated.has(this.queue[0]!.from)) {
      const next = this.queue.shift()!;
      this.queuedBytes -= next.bytes;
      stream.send(next.stanza);
    }
    if (this.queue.length === 0 && stream.ready) clearTimeout(this.deadline);
  }

  /** Authentication of `from` failed: its stanzas bounce, the others keep their order. */
  refuse(from: string, error: StanzaError): void {
    const kept: Queued[] = [];
    for (const q of this.queue.splice(0)) {
      if (q.from === from) {
        this.queuedBytes -= q.bytes;
        void this.manager.bounce(q.stanza, error);
      } else kept.push(q);
    }
    this.queue.push(...kept);
    this.flush();
  }

  fail(error: StanzaError): void {
    if (this.failed) return;
    this.failed = true;
    clearTimeout(this.deadline);
    for (const w of this.streamWaiters.splice(0)) w.reject(new Error(error.text ?? error.condition));
    for (const q of this.queue.splice(0)) void this.manager.bounce(q.stanza, error);
    this.queuedBytes = 0;
    this.manager.forget(this);
    this.stream?.close(error.condition === 'remote-server-timeout' ? new StreamError('connection-timeout') : undefined);
  }
}

export class S2sManager implements RemoteRoute {
  readonly resolver: S2sResolver;
  private readonly links = new Map<string, OutgoingLink>();
  private readonly incoming = new Set<S2sIncomingStream>();
  private readonly secret: string;
  private readonly log: Logger;
  private outgoingConnections = 0;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private readonly livenessTimer: NodeJS.Timeout | undefined;
  /** s2s.max_bytes_per_second: one bucket per remote domain, shared by its incoming streams. */
  private readonly readBudgets = new Map<string, TokenBucket>();
  private stopped = false;

  constructor(
    private readonly server: ParleyServer,
    readonly settings: S2sSettings,
  ) {
    this.log = server.log.child({ s2s: true });
    // XEP-0185 §3: a secret only this server knows; random per start unless configured (clusters share one).
    this.secret = settings.dialbackSecret ?? randomBytes(32).toString('hex');
    this.resolver = new S2sResolver({ servers: settings.dnsServers, timeoutMs: settings.dnsTimeoutMs, staticRoutes: settings.staticRoutes });
    if (settings.idleTimeoutMs > 0) {
      this.idleTimer = setInterval(() => this.closeIdle(), Math.min(settings.idleTimeoutMs / 2, 60_000));
      this.idleTimer.unref();
    }
    const liveness = [settings.whitespacePingMs, settings.writeTimeoutMs].filter((ms) => ms > 0);
    if (liveness.length > 0) {
      this.livenessTimer = setInterval(() => this.checkLiveness(), Math.max(100, Math.min(...liveness) / 4));
      this.livenessTimer.unref();
    }
  }

  /** Streams in both directions, for s2s.max_connections and the metrics. */
  get connectionCount(): number {
    return this.outgoingConnections + this.incoming.size;
  }

  /** Remote domains with an outgoing stream (or one being set up). */
  get outgoingDomains(): string[] {
    return [...new Set([...this.links.values()].map((l) => l.domain))];
  }

  isHosted(domain: string): boolean {
    return this.server.domains.has(domain);
  }

  mayFederate(domain: string): boolean {
    const { allow, deny } = this.settings;
    const listed = (list: string[]) => list.some((d) => d === domain || domain.endsWith(`.${d}`));
    if (listed(deny)) return false;
    return allow.length === 0 || listed(allow);
  }

  key(receiving: string, originating: string, streamId: string): string {
    return dialbackKey(this.secret, receiving, originating, streamId);
  }

  /** RemoteRoute: a stanza from one of our domains to a remote one. */
  async send(event: StanzaEvent): Promise<void> {
    const to = event.to.domain;
    if (this.stopped) throw new StanzaError('remote-server-not-found', 'the server is shutting down');
    if (!this.mayFederate(to)) throw new StanzaError('remote-server-not-found', `federation with ${to} is not allowed here`);
    const from = event.from.domain;
    // Only our own domains speak to other servers; anything else would be relaying.
    if (!this.isHosted(from)) throw new StanzaError('not-allowed', 'this server does not relay');
    this.link(to, from).enqueue(event.stanza, from);
  }

  /**
   * The stream to `domain` that `from` sends on. With dialback, one stream per remote domain carries all our domains
   * (XEP-0220 §3 piggybacking); with SASL EXTERNAL only (s2s.auth external), a stream authenticates the one domain
   * of its header, so each of our domains (a service's too) gets its own, its certificate covering the sub-domain.
   */
  private link(domain: string, from: string = this.server.domain): OutgoingLink {
    const key = this.settings.auth === 'external' ? `${from}>${domain}` : domain;
    let link = this.links.get(key);
    if (link && !link.isDead) return link;
    link = new OutgoingLink(key, domain, this.settings.auth === 'external' ? from : this.server.domain, this);
    this.links.set(key, link);
    void this.connect(link);
    return link;
  }

  forget(link: OutgoingLink): void {
    if (this.links.get(link.key) === link) this.links.delete(link.key);
  }

  async bounce(stanza: XmlElement, error: StanzaError): Promise<void> {
    await this.server.router.bounce(stanza, error);
  }

  // RFC 6120 §3.2: the candidates in order, each address of each; the first that accepts a TCP connection is used.
  private async connect(link: OutgoingLink): Promise<void> {
    const domain = link.domain;
    if (this.connectionCount >= this.settings.maxConnections) {
      return link.fail(new StanzaError('resource-constraint', 'too many server-to-server connections'));
    }
    let socket: Socket | undefined;
    let reason = 'no address';
    try {
      const targets = await this.resolver.resolve(domain);
      outer: for (const target of targets) {
        for (const address of await this.resolver.addresses(target.host)) {
          if (link.isDead) return;
          try {
            socket = await this.openSocket(address, target.port, target.directTls ? domain : undefined);
            break outer;
          } catch (err) {
            reason = (err as Error).message;
          }
        }
      }
    } catch (err) {
      reason = err instanceof NoXmppService ? err.message : (err as Error).message;
    }
    if (link.isDead) {
      socket?.destroy();
      return;
    }
    if (!socket) {
      this.log.info({ remote: domain, reason }, 's2s: remote server not reached');
      return link.fail(new StanzaError('remote-server-not-found', `${domain}: ${reason}`));
    }
    this.outgoingConnections++;
    const conn = new SocketConnection(socket, undefined, this.settings.maxStanzaSize, {
      maxSendBuffer: this.settings.maxSendBuffer,
      tlsHandshakeTimeoutMs: this.settings.connectTimeoutMs,
      s2s: { client: { ...this.settings.tlsClient, servername: domain } },
    });
    const stream = new S2sOutgoingStream(
      link.local,
      domain,
      conn,
      {
        auth: this.settings.auth,
        requireValidCertificates: this.settings.requireValidCertificates,
        dialbackKey: (receiving, originating, id) => this.key(receiving, originating, id),
      },
      {
        authenticated: () => link.flush(),
        refused: (local, error) => link.refuse(local, error),
        ready: () => link.flush(),
        ended: (reason) => {
          this.outgoingConnections--;
          // Stanzas that had not left bounce; the next one builds a new stream (the peer may have restarted).
          link.fail(new StanzaError('remote-server-not-found', `stream to ${domain} ended${reason ? `: ${reason}` : ''}`));
        },
      },
      this.log,
    );
    link.attach(stream);
    stream.start();
  }

  private openSocket(host: string, port: number, directTlsName: string | undefined): Promise<Socket> {
    return new Promise((resolve, reject) => {
      // XEP-0368 §3: direct TLS with SNI naming the XMPP domain.
      const socket = directTlsName
        ? tlsConnect({ ...this.settings.tlsClient, host, port, servername: directTlsName, ALPNProtocols: ['xmpp-server'] })
        : netConnect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to ${host}:${port} timed out`));
      }, this.settings.connectTimeoutMs);
      socket.once(directTlsName ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      });
    });
  }

  /** For incoming streams: the context they call (verification goes over our outgoing stream to the peer). */
  incomingContext(): IncomingContext {
    return {
      auth: this.settings.auth,
      requireValidCertificates: this.settings.requireValidCertificates,
      mainDomain: this.server.domain,
      isHosted: (d) => this.isHosted(d),
      mayFederate: (d) => this.mayFederate(d),
      dialbackKey: (r, o, id) => this.key(r, o, id),
      verify: (local, remote, id, key) => this.verify(local, remote, id, key),
      route: (stanza, origin) => this.server.router.route(stanza, origin),
      throttle: (domain, bytes) => this.throttle(domain, bytes),
      authenticated: () => {},
      ended: (stream) => this.incoming.delete(stream),
    };
  }

  addIncoming(stream: S2sIncomingStream): void {
    this.incoming.add(stream);
  }

  /** XEP-0220 §2.1.2 over our outgoing stream to `remote` (opened for it when there is none). */
  private verify(local: string, remote: string, id: string, key: string): Promise<'valid' | 'invalid'> {
    if (this.stopped) return Promise.reject(new Error('the server is shutting down'));
    const answer = this.link(remote)
      .whenStream()
      .then((stream) => stream.verify(local, id, key));
    // An authoritative server that never answers must not leave the asking stream unauthenticated forever.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${remote} did not answer the verification in time`)), this.settings.connectTimeoutMs);
      timer.unref();
    });
    return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * s2s.max_bytes_per_second (as Prosody's mod_limits): what a remote domain sent is charged to its bucket; the
   * milliseconds its stream waits before the next stanza is read. Reading pauses meanwhile, so a flooding peer meets
   * TCP backpressure and what it sent waits in its own buffers, not ours; nothing is dropped.
   */
  throttle(domain: string, bytes: number): number {
    const rate = this.settings.maxBytesPerSecond;
    if (rate <= 0) return 0;
    let bucket = this.readBudgets.get(domain);
    if (!bucket) {
      bucket = new TokenBucket(rate, rate * BURST_SECONDS);
      this.readBudgets.set(domain, bucket);
    }
    return bucket.take(bytes);
  }

  /** Streams received from other servers, for status and tests. */
  incomingStreams(): { domains: string[]; auth: Record<string, string>; directTls: boolean; alpn: string | undefined; bytesReceived: number }[] {
    return [...this.incoming].map((s) => ({
      domains: [...s.domains],
      auth: Object.fromEntries(s.methods),
      directTls: s.directTls,
      alpn: s.conn.alpnProtocol,
      bytesReceived: s.conn.bytesReceived,
    }));
  }

  /** Streams to other servers (being set up or up), for status and tests. */
  outgoingStreams(): { domain: string; authenticated: string[]; queued: number; bufferedBytes: number }[] {
    return [...this.links.values()].map((l) => ({
      domain: l.domain,
      authenticated: [...(l.stream?.authenticated ?? [])],
      queued: l.queue.length,
      bufferedBytes: l.stream?.conn.bufferedBytes ?? 0,
    }));
  }

  /**
   * RFC 6120 §4.6.1: a stream we wrote nothing to for s2s.whitespace_ping_s gets a single space, so NATs keep it and
   * a peer that is gone shows up as a write error. A peer that takes nothing of what waits for s2s.write_timeout_s
   * (hung, stopped, its host gone without a reset) is dead: its stream closes with connection-timeout (RFC 6120
   * §4.9.3.4) and, for an outgoing one, the next stanza to that domain builds a new stream.
   */
  private checkLiveness(): void {
    const { whitespacePingMs, writeTimeoutMs } = this.settings;
    const now = Date.now();
    const streams = [...[...this.links.values()].flatMap((l) => (l.stream ? [l.stream] : [])), ...this.incoming];
    for (const stream of streams) {
      const conn = stream.conn;
      if (writeTimeoutMs > 0 && conn.stalledMs > writeTimeoutMs) {
        this.log.info({ remote: stream instanceof S2sOutgoingStream ? stream.initiatingTo : [...stream.domains] }, 's2s: peer not reading, stream closed');
        stream.close(new StreamError('connection-timeout', 'The peer is not reading what it is sent'));
        continue;
      }
      if (whitespacePingMs > 0 && stream.machine.isEstablished && now - conn.lastWrite > whitespacePingMs) stream.machine.keepalive();
    }
    for (const [domain, bucket] of this.readBudgets) if (bucket.isFull) this.readBudgets.delete(domain);
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const link of [...this.links.values()]) {
      const stream = link.stream;
      if (stream && link.queue.length === 0 && now - Math.max(link.lastUsed, stream.machine.lastActivity) > this.settings.idleTimeoutMs) {
        this.log.debug({ remote: link.domain }, 's2s: idle outgoing stream closed');
        this.forget(link);
        stream.close();
      }
    }
    for (const stream of [...this.incoming]) {
      if (now - stream.machine.lastActivity > this.settings.idleTimeoutMs) stream.close();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    for (const link of [...this.links.values()]) {
      link.fail(new StanzaError('remote-server-not-found', 'the server is shutting down'));
    }
    for (const stream of [...this.incoming]) stream.close(new StreamError('system-shutdown'));
  }
}
