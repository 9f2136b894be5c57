// Client listeners: plain TCP with STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368), with connection
// limits per server and per IP, whitespace keepalives and an idle timeout (RFC 6120 §4.6).
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContext, type Server as TlsServer } from 'node:tls';
import { StreamError } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import { audit } from '../core/audit';
import { C2sStream } from '../stream/c2s-stream';
import type { C2sPolicy } from '../stream/c2s-policy';
import { SocketConnection, normalizeAddress } from './socket-connection';

const COMPACT_AFTER_MS = 5000;

export interface C2sListenerOptions {
  host: string;
  port: number;
  tlsPort: number | undefined;
  secureContext: SecureContext | undefined;
  /** PEM certificate and key for the direct TLS listener. */
  tls: { cert: Buffer; key: Buffer } | undefined;
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  whitespacePingMs: number;
  perIpExempt: (ip: string) => boolean;
}

export interface RunningListener {
  ports: { c2s: number; c2sTls: number | undefined };
  /** New certificate for connections that follow (STARTTLS reads options.secureContext on each accept). */
  setTls(tls: { cert: Buffer; key: Buffer }): void;
  close(): Promise<void>;
}

export async function startC2sListeners(server: ParleyServer, policy: C2sPolicy, opts: C2sListenerOptions): Promise<RunningListener> {
  const streams = new Set<C2sStream>();
  const perIp = new Map<string, number>();

  const accept = (socket: Socket, direct: boolean): void => {
    const ip = normalizeAddress(socket.remoteAddress ?? '');
    const count = perIp.get(ip) ?? 0;
    const transport = direct ? 'c2s direct TLS' : 'c2s';
    if (streams.size >= opts.maxConnections || (count >= opts.maxConnectionsPerIp && !opts.perIpExempt(ip))) {
      audit.connectionRefused(server.log, ip, transport, streams.size >= opts.maxConnections ? 'c2s.max_connections reached' : 'c2s.max_connections_per_ip reached');
      socket.destroy();
      return;
    }
    perIp.set(ip, count + 1);
    const conn = new SocketConnection(socket, direct ? undefined : opts.secureContext);
    const stream = new C2sStream(server, conn, policy);
    streams.add(stream);
    const since = Date.now();
    audit.connectionAccepted(server.log, ip, transport, stream.id);
    socket.once('close', () => {
      audit.connectionClosed(server.log, ip, transport, stream.id, Math.round((Date.now() - since) / 1000));
      streams.delete(stream);
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
  };

  const tcp = createTcpServer({ noDelay: true }, (socket) => accept(socket, false));
  await listen(tcp, opts.port, opts.host);
  let tlsServer: TlsServer | undefined;
  if (opts.tlsPort !== undefined && opts.tls) {
    // XEP-0368: TLS from the first byte; ALPN 'xmpp-client' is offered for clients that ask.
    tlsServer = createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', ALPNProtocols: ['xmpp-client'] }, (socket) => accept(socket, true));
    tlsServer.on('tlsClientError', () => {});
    await listen(tlsServer, opts.tlsPort, opts.host);
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
    ports: { c2s: addressPort(tcp), c2sTls: tlsServer ? addressPort(tlsServer) : undefined },
    setTls(tls) {
      tlsServer?.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
    },
    async close() {
      clearInterval(sweeper);
      clearInterval(compactor);
      // Stop accepting, then end every stream; server.close() resolves once the last socket is gone.
      const closed = Promise.all([closeServer(tcp), tlsServer ? closeServer(tlsServer) : Promise.resolve()]);
      for (const s of streams) s.close(new StreamError('system-shutdown'));
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
