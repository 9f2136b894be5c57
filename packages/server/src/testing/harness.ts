// Starts a real Parley on random loopback ports with in-memory storage, and connects real clients to it:
// xmpp.js (@xmpp/client) for protocol scenarios and a raw socket for malformed input.
import { createHash } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client as xmppClient } from '@xmpp/client';
import { WebSocket as WsWebSocket } from 'ws';
import { parseXml, type XmlElement } from '@parley/protocol';
import { loadConfig, type Config } from '../config';
import { startServer, type RunningServer } from '../main';
import { silentLogger, createLogger, type Logger } from '../log';

// Test servers use a generated self-signed certificate; clients here must accept it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
// xmpp.js's WebSocket transport uses the WHATWG WebSocket, global from Node 22; ws provides it before.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WsWebSocket;

/** Whether the Redis that cluster tests need listens on 127.0.0.1:6379 (CI starts it; tests skip, saying why, without it). */
export function isRedisUp(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(6379, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface TestServer {
  running: RunningServer;
  config: Config;
  domain: string;
  port: number;
  tlsPort: number;
  /** Plain HTTP (WebSocket at ws://127.0.0.1:httpPort/xmpp-websocket) and HTTPS ports. */
  httpPort: number;
  httpsPort: number;
  /** The XEP-0114 component port (0 when no component is configured). */
  componentPort: number;
  /** The server-to-server port (0 when s2s is disabled). */
  s2sPort: number;
  /** The XEP-0368 direct TLS server-to-server port (0 when s2s.direct_tls_port is not set). */
  s2sDirectTlsPort: number;
  createUser(username: string, password?: string): Promise<void>;
  /** Logs in with xmpp.js (over TCP, or RFC 7395 WebSocket); sends initial presence unless { presence: false }. */
  client(username: string, options?: ClientOptions): Promise<TestClient>;
  raw(): Promise<RawClient>;
  stop(): Promise<void>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export async function startTestServer(overrides: DeepPartial<Config> & Record<string, unknown> = {}, options: { log?: Logger } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const config = loadConfig({
    overrides: {
      domain: 'localhost',
      data_dir: dataDir,
      storage: { backend: 'memory' },
      ...overrides,
      c2s: { port: 0, tls_port: 0, bind: '127.0.0.1', allow_plaintext_auth: true, ...(overrides.c2s as object) },
      http: { port: 0, tls_port: 0, bind: '127.0.0.1', ...(overrides.http as object) },
      auth: { scram_iterations: 4096, ...(overrides.auth as object) },
      components: { port: 0, ...(overrides.components as object) },
      s2s: { port: 0, bind: '127.0.0.1', ...(overrides.s2s as object) },
    } as never,
  });
  const log = options.log ?? (process.env.PARLEY_TEST_LOG ? createLogger(process.env.PARLEY_TEST_LOG) : silentLogger());
  const running = await startServer(config, log);
  const clients: TestClient[] = [];
  const raws: RawClient[] = [];
  const ts: TestServer = {
    running,
    config,
    domain: config.domain,
    port: running.ports.c2s,
    tlsPort: running.ports.c2sTls ?? 0,
    httpPort: running.ports.http,
    httpsPort: running.ports.https,
    componentPort: running.ports.component ?? 0,
    s2sPort: running.ports.s2s ?? 0,
    s2sDirectTlsPort: running.ports.s2sDirectTls ?? 0,
    async createUser(username, password = 'secret') {
      await running.server.accounts.create(username, password);
    },
    async client(username, options = {}) {
      const c = await connectClient(ts, username, options);
      clients.push(c);
      return c;
    },
    async raw() {
      const r = await RawClient.connect(ts.port);
      raws.push(r);
      return r;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.stop().catch(() => {})));
      for (const r of raws) r.destroy();
      await running.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return ts;
}

export interface TestClient {
  jid: string;
  xmpp: ReturnType<typeof xmppClient>;
  /** Every stanza received, in order. */
  received: XmlElement[];
  send(stanza: XmlElement | string): Promise<void>;
  /** Sends an iq (an id is added when it has none) and resolves with its result or error (within `timeoutMs`, default 5 s). */
  iq(stanza: XmlElement | string, timeoutMs?: number): Promise<XmlElement>;
  /** Resolves with the first stanza (already received or future) matching the predicate. */
  waitFor(predicate: (el: XmlElement) => boolean, timeoutMs?: number): Promise<XmlElement>;
  stop(): Promise<void>;
}

let iqSeq = 0;

export interface ClientOptions {
  password?: string;
  resource?: string;
  presence?: boolean;
  /** Connect over WebSocket (RFC 7395) instead of TCP. */
  websocket?: boolean;
}

async function connectClient(ts: TestServer, username: string, options: ClientOptions): Promise<TestClient> {
  const xmpp = xmppClient({
    service: options.websocket ? `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket` : `xmpp://127.0.0.1:${ts.port}`,
    domain: ts.domain,
    username,
    password: options.password ?? 'secret',
    resource: options.resource,
  });
  xmpp.on('error', () => {});
  (xmpp as any).reconnect?.stop?.();
  const received: XmlElement[] = [];
  const waiters: { predicate: (el: XmlElement) => boolean; resolve: (el: XmlElement) => void }[] = [];
  xmpp.on('stanza', (el: any) => {
    const parsed = parseXml(el.toString());
    received.push(parsed);
    for (const w of [...waiters]) {
      if (w.predicate(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  const address = await xmpp.start();
  const c: TestClient = {
    jid: address.toString(),
    xmpp,
    received,
    async send(stanza) {
      await xmpp.write(typeof stanza === 'string' ? stanza : stanza.toString());
    },
    async iq(stanza, timeoutMs) {
      const el = typeof stanza === 'string' ? parseXml(stanza) : stanza;
      el.attrs.id ??= `t${++iqSeq}`;
      const id = el.attrs.id;
      const reply = c.waitFor((r) => r.name === 'iq' && r.attrs.id === id && (r.attrs.type === 'result' || r.attrs.type === 'error'), timeoutMs);
      await c.send(el);
      return reply;
    },
    waitFor(predicate, timeoutMs = 5000) {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.findIndex((w) => w.resolve === wrapped);
          if (i !== -1) waiters.splice(i, 1);
          reject(new Error(`timeout waiting for stanza at ${c.jid}; received: ${received.map((r) => r.toString()).join('\n')}`));
        }, timeoutMs);
        const wrapped = (el: XmlElement) => {
          clearTimeout(timer);
          resolve(el);
        };
        waiters.push({ predicate, resolve: wrapped });
      });
    },
    async stop() {
      await xmpp.stop();
    },
  };
  if (options.presence !== false) await c.send('<presence/>');
  return c;
}

/** A bare TCP client for byte-level tests (malformed XML, limits, negotiation order). */
export class RawClient {
  data = '';
  closed = false;
  private listeners: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.data += d;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  /** `from` picks the source address (tests of per-address limits, inside a network namespace of their own). */
  static connect(port: number, opts: { host?: string; from?: string } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.from }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Direct TLS (XEP-0368) to the TLS port; the certificate is not checked (test servers generate their own). */
  static connectTls(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** Opens a client stream to the domain. */
  open(domain = 'localhost'): void {
    this.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`);
  }

  /** Waits until the received text matches. */
  waitFor(pattern: RegExp | string, timeoutMs = 5000): Promise<string> {
    const test = () => (typeof pattern === 'string' ? this.data.includes(pattern) : pattern.test(this.data));
    if (test()) return Promise.resolve(this.data);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`timeout waiting for ${pattern}; got: ${this.data}`));
      }, timeoutMs);
      const check = () => {
        if (test()) {
          clearTimeout(timer);
          this.listeners = this.listeners.filter((l) => l !== check);
          resolve(this.data);
        }
      };
      this.listeners.push(check);
    });
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection not closed; got: ${this.data}`)), timeoutMs);
      this.listeners.push(() => {
        if (this.closed) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Authenticates with SASL PLAIN over the plain socket (servers in tests allow it) and binds. */
  async login(username: string, password = 'secret', resource = 'raw', domain = 'localhost'): Promise<void> {
    this.open(domain);
    await this.waitFor('</stream:features>');
    this.data = '';
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
    await this.waitFor('<success');
    this.data = '';
    this.open(domain);
    await this.waitFor('</stream:features>');
    this.data = '';
    this.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await this.waitFor('</iq>');
    this.data = '';
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** An external component (XEP-0114) over a raw socket: opens its stream to `domain` and shakes hands with `secret`. */
export async function connectComponent(port: number, domain: string, secret: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
  await c.waitFor(/<stream:stream [^>]*>/);
  const id = /<stream:stream [^>]*\bid=(['"])([^'"]+)\1/.exec(c.data)![2]!;
  c.write(`<handshake>${createHash('sha1').update(id + secret).digest('hex')}</handshake>`);
  await c.waitFor(/<handshake\/>|<\/stream:stream>/);
  return c;
}
