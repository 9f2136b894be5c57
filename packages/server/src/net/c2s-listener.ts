// Client listeners: plain TCP with STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368), with connection
// limits per server and per IP, whitespace keepalives and an idle timeout (RFC 6120 §4.6).
// Limits count a connection from the moment it is accepted: a direct-TLS socket that is still (or never) doing
// its handshake holds a slot like any other, and the handshake has its own short deadline (RFC 6120 §13.12
// asks for limits on connections; a TLS handshake costs the server more than it costs the client).
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { StreamError } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import { C2sStream } from '../stream/c2s-stream';
import type { C2sPolicy } from '../stream/c2s-policy';
import { SocketConnection, normalizeAddress } from './socket-connection';

const COMPACT_AFTER_MS = 5000;

export interface C2sListenerOptions {
  host: string;
  port: number;
  tlsPort: number | undefined;
  /** The certificate offered with STARTTLS and on the direct TLS port. */
  secureContext: SecureContext | undefined;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Bytes waiting for a client past which it is taken for one that stopped reading (see SocketConnection). */
  maxSendBuffer: number;
  /** Time a client has to finish a TLS handshake, direct TLS or after STARTTLS. */
  tlsHandshakeTimeoutMs: number;
  idleTimeoutMs: number;
  whitespacePingMs: number;
  perIpExempt: (ip: string) => boolean;
}

/** One accepted client connection, as an operator (or a test) sees it. */
export interface C2sConnectionInfo {
  remoteAddress: string;
  remotePort: number | undefined;
  /** Direct TLS still negotiating: no stream yet. */
  handshaking: boolean;
  /** Bytes written to the client that it has not taken yet (see SocketConnection.bufferedBytes). */
  bufferedBytes: number;
}

export interface RunningListener {
  ports: { c2s: number; c2sTls: number | undefined };
  /** Every connection that counts toward the limits. */
  connections(): C2sConnectionInfo[];
  close(): Promise<void>;
}

export async function startC2sListeners(server: ParleyServer, policy: C2sPolicy, opts: C2sListenerOptions): Promise<RunningListener> {
  const streams = new Set<C2sStream>();
  /** Accepted sockets (direct TLS: the TCP socket under the TLS one), with their connection once it has one. */
  const accepted = new Map<Socket, SocketConnection | undefined>();
  const perIp = new Map<string, number>();
  const limits = { maxSendBuffer: opts.maxSendBuffer, tlsHandshakeTimeoutMs: opts.tlsHandshakeTimeoutMs };

  /** Counts the socket toward both limits from accept on; false (and the socket dropped) when over one. */
  const admit = (socket: Socket): boolean => {
    const ip = normalizeAddress(socket.remoteAddress ?? '');
    const count = perIp.get(ip) ?? 0;
    if (accepted.size >= opts.maxConnections || (count >= opts.maxConnectionsPerIp && !opts.perIpExempt(ip))) {
      socket.destroy();
      return false;
    }
    perIp.set(ip, count + 1);
    accepted.set(socket, undefined);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      accepted.delete(socket);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
    return true;
  };

  /** `socket` is the accepted one; `transport` the socket the stream speaks over (a TLS socket for direct TLS). */
  const startStream = (socket: Socket, transport: Socket, direct: boolean): void => {
    if (!accepted.has(socket)) return; // gone while the handshake finished
    const conn = new SocketConnection(transport, direct ? undefined : opts.secureContext, limits);
    accepted.set(socket, conn);
    const stream = new C2sStream(server, conn, policy);
    streams.add(stream);
    socket.once('close', () => streams.delete(stream));
  };

  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    if (admit(socket)) startStream(socket, socket, false);
  });
  await listen(tcp, opts.port, opts.host);
  let tlsListener: NetServer | undefined;
  if (opts.tlsPort !== undefined && opts.secureContext) {
    const secureContext = opts.secureContext;
    tlsListener = createTcpServer({ noDelay: true }, (socket) => {
      if (!admit(socket)) return;
      // XEP-0368: TLS from the first byte, with the certificate STARTTLS uses; ALPN 'xmpp-client' for clients that ask.
      const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ['xmpp-client'] });
      const deadline = setTimeout(() => tlsSocket.destroy(), opts.tlsHandshakeTimeoutMs);
      tlsSocket.once('secure', () => {
        clearTimeout(deadline);
        startStream(socket, tlsSocket, true);
      });
      tlsSocket.once('close', () => clearTimeout(deadline));
      // Handshake failures end here; once the stream runs, SocketConnection handles errors the same way.
      tlsSocket.on('error', () => tlsSocket.destroy());
    });
    await listen(tlsListener, opts.tlsPort, opts.host);
  }

  // One sweep for all streams is cheaper than a timer per socket at tens of thousands of sessions.
  // A value of 0 turns the idle timeout or the keepalive off.
  const idleMs = opts.idleTimeoutMs || Infinity;
  const pingMs = opts.whitespacePingMs || Infinity;
  const sweepEvery = Math.min(60_000, Math.max(1000, Math.min(pingMs, idleMs) / 2));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of streams) {
      const idle = now - s.lastActivity;
      if (idle > idleMs) s.close(new StreamError('connection-timeout'));
      else if (idle > pingMs && s.isEstablished) s.whitespacePing();
    }
  }, sweepEvery);
  sweeper.unref();
  // Idle clients give back their parser memory; at tens of thousands of sessions that is most of them.
  const compactor = setInterval(() => {
    const idleSince = Date.now() - COMPACT_AFTER_MS;
    for (const s of streams) if (s.lastActivity < idleSince) s.compact();
  }, COMPACT_AFTER_MS);
  compactor.unref();

  return {
    ports: { c2s: addressPort(tcp), c2sTls: tlsListener ? addressPort(tlsListener) : undefined },
    connections() {
      return [...accepted].map(([socket, conn]) => ({
        remoteAddress: normalizeAddress(socket.remoteAddress ?? ''),
        remotePort: socket.remotePort,
        handshaking: conn === undefined,
        bufferedBytes: conn?.bufferedBytes ?? 0,
      }));
    },
    async close() {
      clearInterval(sweeper);
      clearInterval(compactor);
      // Stop accepting, then end every stream; server.close() resolves once the last socket is gone.
      const closed = Promise.all([closeServer(tcp), tlsListener ? closeServer(tlsListener) : Promise.resolve()]);
      for (const s of streams) s.close(new StreamError('system-shutdown'));
      for (const [socket, conn] of accepted) if (conn === undefined) socket.destroy();
      await closed;
    },
  };
}

function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function addressPort(server: NetServer): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}
