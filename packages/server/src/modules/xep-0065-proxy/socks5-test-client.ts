// A SOCKS5 client for tests (RFC 1928 no-auth CONNECT to a DOMAINNAME), the way XEP-0065 clients talk to a proxy.
import { connect, type Socket } from 'node:net';

export class SocksClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<SocksClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new SocksClient(s)));
      s.once('error', reject);
    });
  }

  /** Greets with no authentication and CONNECTs to `hash`; resolves with the reply code (0 = succeeded). */
  static async connectTo(port: number, hash: string): Promise<{ client: SocksClient; rep: number }> {
    const client = await SocksClient.open(port);
    client.socket.write(Buffer.from([5, 1, 0]));
    const method = await client.read(2);
    if (method[1] !== 0) return { client, rep: -1 };
    const addr = Buffer.from(hash, 'latin1');
    client.socket.write(Buffer.concat([Buffer.from([5, 1, 0, 3, addr.length]), addr, Buffer.from([0, 0])]));
    const head = await client.read(5);
    await client.read(head[4]! + 2);
    return { client, rep: head[1]! };
  }

  /** Exactly n bytes (rejects if the connection closes first). */
  async read(n: number, timeoutMs = 5000): Promise<Buffer> {
    const end = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.buf.length} of ${n} bytes`);
      if (Date.now() > end) throw new Error(`timeout after ${this.buf.length} of ${n} bytes`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Everything until the peer closes. */
  async readAll(timeoutMs = 5000): Promise<Buffer> {
    const end = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > end) throw new Error(`timeout; got ${this.buf.length} bytes`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.readAll(timeoutMs).then(() => undefined);
  }
}
