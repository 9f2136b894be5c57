// Client listeners: plain TCP with STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368). Limits, keepalives and the idle
// timeout are those of every client transport (client-streams.ts).
// Limits count a connection from the moment it is accepted: a direct-TLS socket that is still (or never) doing its
// handshake holds a slot like any other, and the handshake has its own short deadline (RFC 6120 §13.12 asks for
// limits on connections; a TLS handshake costs the server more than it costs the client).
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { ClientStreams, ConnectionSlot } from './client-streams';
import { SocketConnection, normalizeAddress, type SocketConnectionLimits } from './socket-connection';

export interface C2sListenerOptions {
  host: string;
  port: number;
  tlsPort: number | undefined;
  /**
   * Certificate, key, versions and ciphers for STARTTLS and direct TLS; read on every accept, so a reload (SIGHUP)
   * changes it for the connections that follow.
   */
  secureContext: SecureContext | undefined;
  maxStanzaSize: number;
  /** Bytes waiting for a client past which it is taken for one that stopped reading (see SocketConnection). */
  maxSendBuffer: number;
  /** Time a client has to finish a TLS handshake, direct TLS or after STARTTLS. */
  tlsHandshakeTimeoutMs: number;
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
  /** Every TCP connection of these listeners that counts toward the limits. */
  connections(): C2sConnectionInfo[];
  /** Stops accepting; resolves once the last socket is gone (the caller ends the streams). */
  close(): Promise<void>;
}

export async function startC2sListeners(streams: ClientStreams, opts: C2sListenerOptions): Promise<RunningListener> {
  /** Accepted sockets (direct TLS: the TCP socket under the TLS one), with their connection once it has one. */
  const accepted = new Map<Socket, SocketConnection | undefined>();
  /** The slot of each accepted socket until its stream takes it over. */
  const slotOf = new Map<Socket, ConnectionSlot>();
  const limits: SocketConnectionLimits = { maxSendBuffer: opts.maxSendBuffer, tlsHandshakeTimeoutMs: opts.tlsHandshakeTimeoutMs };

  /** `socket` is the accepted one; `stream` the socket the XMPP stream speaks over (a TLS socket for direct TLS). */
  const startStream = (socket: Socket, stream: Socket, direct: boolean, transport: string): void => {
    if (!accepted.has(socket) || socket.destroyed) return; // gone while the handshake finished
    const conn = new SocketConnection(stream, direct ? undefined : opts.secureContext, opts.maxStanzaSize, limits);
    accepted.set(socket, conn);
    const { release } = streams.open(conn, transport, slotOf.get(socket)!);
    slotOf.delete(socket);
    socket.once('close', release);
  };

  /** Counts the socket toward both limits from accept on; false (and the socket dropped) when over one. */
  const admit = (socket: Socket, transport: string): boolean => {
    const slot = streams.admit(normalizeAddress(socket.remoteAddress ?? ''), transport);
    if (!slot) {
      socket.destroy();
      return false;
    }
    accepted.set(socket, undefined);
    slotOf.set(socket, slot);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      accepted.delete(socket);
      // A socket that never became a stream gives its slot back here; a stream's release does it otherwise.
      slotOf.get(socket)?.release();
      slotOf.delete(socket);
    });
    return true;
  };

  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    if (admit(socket, 'c2s')) startStream(socket, socket, false, 'c2s');
  });
  await listen(tcp, opts.port, opts.host);
  let tlsListener: NetServer | undefined;
  if (opts.tlsPort !== undefined && opts.secureContext) {
    tlsListener = createTcpServer({ noDelay: true }, (socket) => {
      if (!admit(socket, 'c2s direct TLS')) return;
      // XEP-0368: TLS from the first byte, with the certificate STARTTLS uses; ALPN 'xmpp-client' for clients that ask.
      const tlsSocket = new TLSSocket(socket, { isServer: true, secureContext: opts.secureContext, ALPNProtocols: ['xmpp-client'] });
      const deadline = setTimeout(() => tlsSocket.destroy(), opts.tlsHandshakeTimeoutMs);
      tlsSocket.once('secure', () => {
        clearTimeout(deadline);
        startStream(socket, tlsSocket, true, 'c2s direct TLS');
      });
      tlsSocket.once('close', () => clearTimeout(deadline));
      // Handshake failures end here; once the stream runs, SocketConnection handles errors the same way.
      tlsSocket.on('error', () => tlsSocket.destroy());
    });
    try {
      await listen(tlsListener, opts.tlsPort, opts.host);
    } catch (err) {
      await closeServer(tcp);
      throw err;
    }
  }

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
    close() {
      const closed = Promise.all([closeServer(tcp), tlsListener ? closeServer(tlsListener) : Promise.resolve()]);
      // Sockets still in their TLS handshake have no stream to end: drop them.
      for (const [socket, conn] of accepted) if (conn === undefined) socket.destroy();
      return closed.then(() => {});
    },
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
