// The SOCKS5 side of a XEP-0065 proxy (§6): RFC 1928 with no authentication and only CONNECT to a DOMAINNAME,
// which is SHA1(SID + Requester JID + Target JID) in hex (§5.3.2). The first connection for a hash is the
// target's, the second the requester's; the pair is piped together when the requester activates it (§6.3.4).
import { createServer, type Server, type Socket } from 'node:net';

const VERSION = 5;
const NO_AUTH = 0;
const NO_ACCEPTABLE_METHODS = 0xff;
const CMD_CONNECT = 1;
const ATYP_DOMAINNAME = 3;
// RFC 1928 §6 reply codes.
const REP_SUCCEEDED = 0;
const REP_NOT_ALLOWED = 2;
const REP_COMMAND_NOT_SUPPORTED = 7;
const REP_ADDRESS_NOT_SUPPORTED = 8;

/** Bytes a client may send before activation (XEP-0065 §8.1: ignore but do not drop them) before we give up. */
const MAX_EARLY_BYTES = 64 * 1024;
const HASH = /^[0-9a-f]{40}$/;

export interface ProxyLimits {
  /** Connections not yet activated (handshaking or waiting), all clients together. */
  maxPending: number;
  /** Close a connection that is idle this long, before and after activation. */
  idleTimeoutMs: number;
}

interface Waiting {
  socket: Socket;
  /** Bytes that arrived after the CONNECT request, replayed to the peer on activation. */
  early: Buffer;
}

interface Pair {
  target: Waiting;
  requester?: Waiting;
  active: boolean;
}

export type ActivateResult = 'ok' | 'not-found' | 'one-party' | 'active';

export class Socks5Proxy {
  private readonly server: Server;
  private readonly pairs = new Map<string, Pair>();
  private readonly sockets = new Set<Socket>();
  /** Connections not activated yet: handshaking, or waiting for their peer or the activation. */
  private readonly pending = new Set<Socket>();

  constructor(private readonly limits: ProxyLimits) {
    this.server = createServer((socket) => this.accept(socket));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.pairs.clear();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Connections waiting for activation (for limits and tests). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** §6.3.4: pipes the two connections of `hash` together. */
  activate(hash: string): ActivateResult {
    const pair = this.pairs.get(hash);
    if (!pair) return 'not-found';
    if (pair.active) return 'active';
    if (!pair.requester) return 'one-party';
    pair.active = true;
    const { target, requester } = pair;
    this.pending.delete(target.socket);
    this.pending.delete(requester.socket);
    for (const [from, to] of [
      [target, requester],
      [requester, target],
    ] as const) {
      if (from.early.length) to.socket.write(from.early);
      from.socket.removeAllListeners('data');
      from.socket.pipe(to.socket);
      from.socket.on('close', () => to.socket.end());
    }
    target.socket.resume();
    requester.socket.resume();
    return 'ok';
  }

  private accept(socket: Socket): void {
    if (this.pending.size >= this.limits.maxPending) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    this.sockets.add(socket);
    let hash: string | undefined;
    socket.setNoDelay(true);
    let gone = false;
    const forget = () => {
      if (gone) return;
      gone = true;
      this.sockets.delete(socket);
      this.pending.delete(socket);
      const found = hash === undefined ? undefined : this.pairs.get(hash);
      const pair = found && (found.target.socket === socket || found.requester?.socket === socket) ? found : undefined;
      if (pair && !pair.active) {
        // The other side of a pair that never got activated has nobody to talk to any more.
        this.pairs.delete(hash!);
        for (const w of [pair.target, pair.requester]) if (w && w.socket !== socket) w.socket.destroy();
      } else if (pair?.active) {
        this.pairs.delete(hash!);
      }
    };
    socket.setTimeout(this.limits.idleTimeoutMs, () => {
      forget();
      socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', forget);

    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'waiting' = 'greeting';
    let waiting: Waiting | undefined;
    const fail = (reply?: Buffer) => {
      if (reply) socket.end(reply);
      else socket.destroy();
      stage = 'waiting';
    };

    socket.on('data', (chunk: Buffer) => {
      if (stage === 'waiting') {
        // Early bytes: kept for the peer (XEP-0065 §8.1), within a bound.
        if (!waiting) return;
        waiting.early = Buffer.concat([waiting.early, chunk]);
        if (waiting.early.length > MAX_EARLY_BYTES) socket.destroy();
        else socket.pause();
        return;
      }
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > 600) return fail();
      if (stage === 'greeting') {
        // RFC 1928 §3: VER NMETHODS METHODS…
        if (buf.length < 2) return;
        if (buf[0] !== VERSION) return fail();
        const n = buf[1]!;
        if (buf.length < 2 + n) return;
        const methods = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        if (!methods.includes(NO_AUTH)) return fail(Buffer.from([VERSION, NO_ACCEPTABLE_METHODS]));
        socket.write(Buffer.from([VERSION, NO_AUTH]));
        stage = 'request';
      }
      if (stage === 'request') {
        // RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT; XEP-0065 §8.2: CONNECT, DOMAINNAME, port 0.
        if (buf.length < 5) return;
        if (buf[0] !== VERSION) return fail();
        const reply = (rep: number, addr = Buffer.alloc(0)) =>
          Buffer.concat([Buffer.from([VERSION, rep, 0, ATYP_DOMAINNAME, addr.length]), addr, Buffer.from([0, 0])]);
        if (buf[1] !== CMD_CONNECT) return fail(reply(REP_COMMAND_NOT_SUPPORTED));
        if (buf[3] !== ATYP_DOMAINNAME) return fail(reply(REP_ADDRESS_NOT_SUPPORTED));
        const len = buf[4]!;
        if (buf.length < 5 + len + 2) return;
        const addr = buf.subarray(5, 5 + len);
        const rest = buf.subarray(5 + len + 2);
        const h = addr.toString('latin1').toLowerCase();
        if (!HASH.test(h)) return fail(reply(REP_NOT_ALLOWED));
        const pair = this.pairs.get(h);
        // XEP-0065 §8.1: one target per bytestream (no multicast); a third connection is refused.
        if (pair && (pair.requester || pair.active)) return fail(reply(REP_NOT_ALLOWED));
        waiting = { socket, early: Buffer.from(rest) };
        if (pair) pair.requester = waiting;
        else this.pairs.set(h, { target: waiting, active: false });
        hash = h;
        stage = 'waiting';
        // §5.3.2: BND.ADDR and BND.PORT echo the request.
        socket.write(reply(REP_SUCCEEDED, addr));
        socket.pause();
      }
    });
  }
}
