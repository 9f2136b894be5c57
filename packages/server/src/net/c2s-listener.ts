// Client listeners: plain TCP with STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368). Limits, keepalives and the idle
// timeout are those of every client transport (client-streams.ts).
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ClientStreams } from './client-streams';
import { SocketConnection, normalizeAddress } from './socket-connection';

export interface C2sListenerOptions {
  host: string;
  port: number;
  tlsPort: number | undefined;
  secureContext: SecureContext | undefined;
  /** Certificate, key, versions and ciphers for the direct TLS listener (the same as secureContext's). */
  tls: SecureContextOptions | undefined;
  maxStanzaSize: number;
}

export interface RunningListener {
  ports: { c2s: number; c2sTls: number | undefined };
  close(): Promise<void>;
}

export async function startC2sListeners(streams: ClientStreams, opts: C2sListenerOptions): Promise<RunningListener> {
  const accept = (socket: Socket, direct: boolean): void => {
    const ip = normalizeAddress(socket.remoteAddress ?? '');
    if (!streams.admits(ip)) {
      socket.destroy();
      return;
    }
    const conn = new SocketConnection(socket, direct ? undefined : opts.secureContext, opts.maxStanzaSize);
    const { release } = streams.open(conn);
    socket.once('close', release);
  };

  const tcp = createTcpServer({ noDelay: true }, (socket) => accept(socket, false));
  await listen(tcp, opts.port, opts.host);
  let tlsServer: NetServer | undefined;
  if (opts.tlsPort !== undefined && opts.tls) {
    // XEP-0368: TLS from the first byte; ALPN 'xmpp-client' is offered for clients that ask.
    tlsServer = createTlsServer({ ...opts.tls, ALPNProtocols: ['xmpp-client'] }, (socket) => accept(socket, true));
    tlsServer.on('tlsClientError', () => {});
    try {
      await listen(tlsServer, opts.tlsPort, opts.host);
    } catch (err) {
      await closeServer(tcp);
      throw err;
    }
  }

  return {
    ports: { c2s: addressPort(tcp), c2sTls: tlsServer ? addressPort(tlsServer) : undefined },
    // Stops accepting; resolves once the last socket is gone (the caller ends the streams).
    close: () => Promise.all([closeServer(tcp), tlsServer ? closeServer(tlsServer) : Promise.resolve()]).then(() => {}),
  };
}

export function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export function addressPort(server: NetServer): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}
