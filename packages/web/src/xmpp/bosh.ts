// BOSH (XEP-0124, XEP-0206) as an xmpp.js transport, for networks where the WebSocket cannot connect (proxies
// that drop Upgrade, blocked ports). xmpp.js speaks RFC 7395 framing to a "socket": <open/>, stanzas, <close/>,
// one element per write and per 'data' event. BoshSocket keeps that interface and carries the same elements in
// HTTP <body/> wrappers: <open/> becomes the session creation request (or a restart, XEP-0206 §5), <close/> a
// terminate request, and the server's stream header is synthesised from the creation response (§7.1 'from',
// 'authid'). So the whole logged-in session (SASL2, FAST, bind, stream management) runs unchanged over it.
import { NS } from '@parley/protocol';
import type { Client } from '@xmpp/client';
import { escapeAttr, initialRid, openFrame } from './bosh-framing';

const HTTPBIND = 'http://jabber.org/protocol/httpbind';
const XBOSH = 'urn:xmpp:xbosh';
/** XEP-0124 §7.1: how long the server may hold a request; the HTTP request itself waits a little longer. */
const WAIT_SECONDS = 30;

type Handler = (...args: unknown[]) => void;

/** The little of Node's EventEmitter that xmpp.js uses on a socket (addListener, removeListener, once). */
class Emitter {
  private readonly handlers = new Map<string, Set<Handler>>();
  addListener(event: string, fn: Handler): this {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(fn);
    return this;
  }
  on(event: string, fn: Handler): this {
    return this.addListener(event, fn);
  }
  removeListener(event: string, fn: Handler): this {
    this.handlers.get(event)?.delete(fn);
    return this;
  }
  off(event: string, fn: Handler): this {
    return this.removeListener(event, fn);
  }
  once(event: string, fn: Handler): this {
    const wrapped: Handler = (...args) => {
      this.removeListener(event, wrapped);
      fn(...args);
    };
    return this.addListener(event, wrapped);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) fn(...args);
  }
}

export class BoshSocket extends Emitter {
  url = '';
  /** Loopback or https: where the server accepts PLAIN (the same test as xmpp.js's WebSocket socket). */
  secure = false;
  private sid?: string;
  private rid = initialRid();
  private domain = '';
  private streamFrom?: string;
  private streamId?: string;
  /** Elements waiting for the next request. */
  private outbox: string[] = [];
  private inFlight = 0;
  /** XEP-0124 §7.1: the server's 'requests' (hold + 1); 2 until it says. */
  private maxRequests = 2;
  private closed = false;
  private readonly aborts = new Set<AbortController>();
  /** Requests sent and not answered yet, by rid: a page that goes away sends them again (see leave). */
  private readonly unanswered = new Map<number, string>();

  connect(url: string): void {
    this.url = url;
    const u = new URL(url);
    this.secure = u.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
    // HTTP has no connection to open: the session starts with the first request, when xmpp.js writes <open/>.
    queueMicrotask(() => this.emit('connect'));
  }

  write(data: string, done?: (err?: Error) => void): void {
    try {
      this.accept(data);
      queueMicrotask(() => done?.());
    } catch (err) {
      queueMicrotask(() => done?.(err as Error));
    }
  }

  end(): void {
    this.shutDown(false);
  }

  /**
   * The page is going away: a last terminate request with `payload` (our unavailable presence), sent so that it
   * outlives the page since nothing asynchronous finishes in pagehide (XEP-0124 §13): contacts see us leave at
   * once rather than when the session times out.
   */
  leave(payload: string): void {
    if (this.closed || !this.sid) return;
    const body = `<body ${this.bodyAttrs(" type='terminate'")}>${this.outbox.splice(0).join('')}${payload}</body>`;
    // The server handles requests in rid order (XEP-0124 §14.1): a request the unloading page cancels before it
    // left would hold the terminate back until the session times out. So the unanswered ones go again first (a
    // repeated rid is answered, never applied twice, §14.3). keepalive: they outlive the page (sendBeacon would
    // refuse the text/xml type in Chromium).
    const send = (text: string) =>
      void fetch(this.url, { method: 'POST', body: text, keepalive: true, headers: { 'Content-Type': 'text/xml; charset=utf-8' } }).catch(() => {});
    for (const [, pending] of [...this.unanswered].sort(([a], [b]) => a - b)) send(pending);
    send(body);
    this.shutDown(false);
  }

  private accept(data: string): void {
    if (this.closed) throw new Error('BOSH session closed');
    const doc = new DOMParser().parseFromString(data, 'application/xml');
    const el = doc.documentElement;
    if (el.localName === 'open' && el.namespaceURI === NS.FRAMING) {
      this.domain = el.getAttribute('to') ?? this.domain;
      if (!this.sid) void this.createSession(el.getAttribute('xml:lang') ?? 'en');
      else void this.restart();
      return;
    }
    if (el.localName === 'close' && el.namespaceURI === NS.FRAMING) {
      void this.terminate();
      return;
    }
    this.outbox.push(data);
    this.pump();
  }

  private bodyAttrs(extra = ''): string {
    return `rid='${this.rid++}' xmlns='${HTTPBIND}'${this.sid ? ` sid='${escapeAttr(this.sid)}'` : ''}${extra}`;
  }

  /** XEP-0124 §7.1, XEP-0206 §3: the session creation request; its response is the stream header. */
  private async createSession(lang: string): Promise<void> {
    const body =
      `<body ${this.bodyAttrs()} to='${escapeAttr(this.domain)}' xml:lang='${escapeAttr(lang)}' wait='${WAIT_SECONDS}' hold='1' ` +
      `content='text/xml; charset=utf-8' ver='1.11' xmpp:version='1.0' xmlns:xmpp='${XBOSH}'/>`;
    const response = await this.post(body);
    if (!response) return;
    this.sid = response.getAttribute('sid') ?? undefined;
    if (!this.sid) return this.fail(new Error('BOSH: no session id'));
    this.streamFrom = response.getAttribute('from') ?? this.domain;
    this.streamId = response.getAttribute('authid') ?? this.sid;
    const requests = Number(response.getAttribute('requests'));
    if (Number.isInteger(requests) && requests >= 1) this.maxRequests = requests;
    this.emit('data', openFrame({ from: this.streamFrom, id: this.streamId }));
    this.deliver(response);
    this.pump();
  }

  /** XEP-0206 §5: after SASL the client restarts the stream; the new features come in the response. */
  private async restart(): Promise<void> {
    this.inFlight++;
    const response = await this.post(`<body ${this.bodyAttrs(` to='${escapeAttr(this.domain)}' xmpp:restart='true' xmlns:xmpp='${XBOSH}'`)}/>`);
    this.inFlight--;
    if (!response) return;
    this.emit('data', openFrame({ from: this.streamFrom, id: this.streamId }));
    this.deliver(response);
    this.pump();
  }

  /** XEP-0124 §13: the last request says goodbye, with whatever is still queued. */
  private async terminate(): Promise<void> {
    const payload = this.outbox.splice(0).join('');
    const response = await this.post(`<body ${this.bodyAttrs(" type='terminate'")}>${payload}</body>`);
    if (response) this.deliver(response);
    if (!this.closed) this.emit('data', `<close xmlns='${NS.FRAMING}'/>`);
  }

  /**
   * Keeps one request held at the server for what it has to say (§8), and sends queued elements at once in a
   * second one: never more than the server's 'requests' open at a time (§11).
   */
  private pump(): void {
    if (this.closed || !this.sid) return;
    while (this.inFlight < this.maxRequests && (this.outbox.length > 0 || this.inFlight === 0)) {
      const payload = this.outbox.splice(0).join('');
      this.inFlight++;
      void this.post(`<body ${this.bodyAttrs()}>${payload}</body>`).then((response) => {
        this.inFlight--;
        if (!response) return;
        this.deliver(response);
        this.pump();
      });
    }
  }

  /** Hands each child of a response body to xmpp.js as one element; type='terminate' ends the session. */
  private deliver(body: Element): void {
    for (const child of Array.from(body.children)) {
      if (this.closed) return;
      this.emit('data', new XMLSerializer().serializeToString(child));
    }
    if (body.getAttribute('type') === 'terminate' && !this.closed) {
      const condition = body.getAttribute('condition');
      // §17.2: a terminal binding condition is the end of the stream as far as xmpp.js is concerned.
      if (condition) console.warn('BOSH session terminated:', condition);
      this.emit('data', `<close xmlns='${NS.FRAMING}'/>`);
      this.shutDown(true);
    }
  }

  private async post(body: string): Promise<Element | undefined> {
    const rid = Number(/ rid='(\d+)'/.exec(body)?.[1]);
    this.unanswered.set(rid, body);
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), (WAIT_SECONDS + 15) * 1000);
    try {
      const res = await fetch(this.url, { method: 'POST', body, headers: { 'Content-Type': 'text/xml; charset=utf-8' }, signal: abort.signal });
      if (!res.ok) throw new Error(`BOSH: HTTP ${res.status}`);
      this.unanswered.delete(rid);
      const doc = new DOMParser().parseFromString(await res.text(), 'application/xml');
      const el = doc.documentElement;
      if (el.localName !== 'body' || el.namespaceURI !== HTTPBIND) throw new Error('BOSH: not a <body/>');
      return this.closed ? undefined : el;
    } catch (err) {
      if (!this.closed) this.fail(err as Error);
      return undefined;
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
    }
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.emit('error', err);
    this.shutDown(true);
  }

  private shutDown(dirty: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
    queueMicrotask(() => this.emit('close', dirty));
  }
}

/** The BOSH URL of the server that serves this page. */
export function boshUrl(loc: Location = location): string {
  return `${loc.protocol}//${loc.host}/http-bind`;
}

/**
 * Teaches an xmpp.js client the BOSH transport: the same element handling as its WebSocket transport (framing
 * elements, jabber:client namespace), a different socket, picked for http(s):// services.
 */
export function addBoshTransport(xmpp: Client): void {
  const WebSocketTransport = xmpp.transports[0];
  if (!WebSocketTransport) throw new Error('xmpp.js has no WebSocket transport to extend');
  class BoshTransport extends WebSocketTransport {
    override socketParameters(service: string): string | undefined {
      return /^https?:\/\//.test(service) ? service : undefined;
    }
  }
  (BoshTransport.prototype as unknown as { Socket: unknown }).Socket = BoshSocket;
  xmpp.transports.push(BoshTransport);
}

/**
 * Whether a WebSocket to `url` opens within `timeoutMs`: when it does not (or the browser refuses to make one),
 * the app uses BOSH instead.
 */
export function canOpenWebSocket(url: string, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, ['xmpp']);
    } catch {
      return resolve(false);
    }
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      ws.onopen = ws.onerror = ws.onclose = null;
      try {
        ws.close();
      } catch {
        // not open
      }
      resolve(ok);
    };
    ws.onopen = () => finish(true);
    ws.onerror = () => finish(false);
    ws.onclose = () => finish(false);
  });
}

/**
 * One short BOSH session for raw-stream.ts's single exchanges (registration, token invalidation) when the
 * WebSocket cannot connect: `send` queues an element for the next request, `next` returns the next element the
 * server sent, asking again (held requests, XEP-0124 §8) until one comes.
 */
export async function withBoshSession<T>(
  url: string,
  domain: string,
  exchange: (send: (xml: string) => void, next: () => Promise<Element>) => Promise<T>,
  onFeatures?: (features: Element) => void,
): Promise<T> {
  let rid = initialRid();
  let sid = '';
  let outbox = '';
  const inbox: Element[] = [];
  const post = async (attrs: string, payload = ''): Promise<Element> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml; charset=utf-8' },
      body: `<body rid='${rid++}' xmlns='${HTTPBIND}'${sid ? ` sid='${escapeAttr(sid)}'` : ''} ${attrs}>${payload}</body>`,
    });
    if (!res.ok) throw new Error(`BOSH: HTTP ${res.status}`);
    const body = new DOMParser().parseFromString(await res.text(), 'application/xml').documentElement;
    if (body.localName !== 'body' || body.namespaceURI !== HTTPBIND) throw new Error('BOSH: not a <body/>');
    inbox.push(...Array.from(body.children));
    if (body.getAttribute('type') === 'terminate') throw new Error(`BOSH session ended: ${body.getAttribute('condition') ?? 'terminated'}`);
    return body;
  };
  const next = async (): Promise<Element> => {
    for (let attempt = 0; inbox.length === 0 && attempt < 3; attempt++) {
      const payload = outbox;
      outbox = '';
      await post('', payload);
    }
    const el = inbox.shift();
    if (!el) throw new Error('the server did not answer');
    return el;
  };
  const created = await post(`to='${escapeAttr(domain)}' xml:lang='en' wait='10' hold='1' ver='1.11' content='text/xml; charset=utf-8' xmpp:version='1.0' xmlns:xmpp='${XBOSH}'`);
  sid = created.getAttribute('sid') ?? '';
  if (!sid) throw new Error('BOSH: no session id');
  try {
    const features = await next();
    if (features.localName !== 'features') throw new Error('no stream features');
    onFeatures?.(features);
    return await exchange((xml) => void (outbox += xml), next);
  } finally {
    void post("type='terminate'").catch(() => {});
  }
}
