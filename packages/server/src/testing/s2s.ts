// Federation test helpers: loopback ports chosen before the servers start (each needs the other's in
// s2s.static_routes), and a pair of servers a.test and b.test that reach each other.
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startTestServer, type TestServer } from './harness';

/** A port free on loopback now (the servers need each other's before either starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** a.test and b.test (with their conference services) on loopback, routed to each other by s2s.static_routes. */
export async function startPair(s2sA: Record<string, unknown> = {}, s2sB: Record<string, unknown> = {}): Promise<{ a: TestServer; b: TestServer; portB: number }> {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startTestServer({
    domain: 'a.test',
    s2s: { port: portA, static_routes: { 'b.test': `127.0.0.1:${portB}`, 'conference.b.test': `127.0.0.1:${portB}` }, ...s2sA },
  } as never);
  const b = await startTestServer({
    domain: 'b.test',
    s2s: { port: portB, static_routes: { 'a.test': `127.0.0.1:${portA}`, 'conference.a.test': `127.0.0.1:${portA}` }, ...s2sB },
  } as never);
  return { a, b, portB };
}


/**
 * A hand-driven server-to-server peer for byte-level tests of the incoming side: it opens jabber:server streams
 * (declaring dialback), upgrades with STARTTLS as the TLS client, and collects what it receives as text.
 */
export class RawS2sPeer {
  data = '';
  closed = false;
  private socket: Socket;
  private listeners: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  static connect(port: number): Promise<RawS2sPeer> {
    return new Promise((resolve, reject) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => resolve(new RawS2sPeer(s)));
      s.once('error', reject);
    });
  }

  private attach(socket: Socket): void {
    socket.on('data', (d: Buffer) => {
      this.data += d.toString('utf8');
      for (const l of [...this.listeners]) l();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const l of [...this.listeners]) l();
    });
    socket.on('error', () => {});
  }

  write(text: string): void {
    this.socket.write(text);
  }

  open(from: string, to: string): void {
    this.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'>`);
  }

  /** The 'id' of the last stream header received. */
  get streamId(): string {
    const ids = [...this.data.matchAll(/<stream:stream [^>]*\bid=(['"])([^'"]+)\1/g)];
    return ids[ids.length - 1]![2]!;
  }

  waitFor(pattern: RegExp | string, timeoutMs = 5000): Promise<string> {
    const test = () => (typeof pattern === 'string' ? this.data.includes(pattern) : pattern.test(this.data));
    if (test()) return Promise.resolve(this.data);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check);
        reject(new Error(`timeout waiting for ${pattern}; received: ${this.data}`));
      }, timeoutMs);
      const check = () => {
        if (!test()) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        resolve(this.data);
      };
      this.listeners.push(check);
    });
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not closed; received: ${this.data}`)), timeoutMs);
      this.listeners.push(() => {
        if (this.closed) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Opens a stream from `from` to `to`, negotiates STARTTLS and opens the stream again over TLS, up to its features. */
  async secure(from: string, to: string): Promise<void> {
    this.open(from, to);
    await this.waitFor('</stream:features>');
    this.data = '';
    this.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await this.waitFor('<proceed');
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const tls = tlsConnect({ socket: raw, servername: to, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', () => resolve());
      tls.once('error', reject);
    });
    this.socket = tls;
    this.attach(tls);
    this.data = '';
    this.open(from, to);
    await this.waitFor('</stream:features>');
  }

  /** Bytes written here that the server has not taken yet (held by this side's socket). */
  get unsent(): number {
    return this.socket.writableLength;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
