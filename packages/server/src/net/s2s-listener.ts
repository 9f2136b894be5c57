// The server-to-server listener (RFC 6120, port 5269): plain TCP with STARTTLS required by the incoming stream
// policy (stream/s2s-in-policy.ts). The TLS context asks for the peer's certificate and trusts the system CAs and
// s2s.ca_file, so SASL EXTERNAL (XEP-0178) can be offered to a peer whose certificate validates; one that does not
// validate is still accepted for dialback (XEP-0220) unless the policy says otherwise. Connections are bounded by
// s2s.max_connections, counted with the outgoing ones. With s2s.direct_tls_port, a second listener speaks TLS from the
// first byte (XEP-0368 §3, the target of _xmpps-server._tcp SRV records) and agrees on ALPN 'xmpp-server' with peers
// that offer ALPN; the stream behind it is the same incoming policy, already secure (no STARTTLS offered).
import { createServer as createTcpServer, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { StreamError } from '@parley/protocol';
import type { S2sManager } from '../core/s2s-manager';
import type { Logger } from '../log';
import { S2sIncomingStream } from '../stream/s2s-in-policy';
import { SocketConnection, normalizeAddress } from './socket-connection';
import { addressPort, closeServer, listen } from './c2s-listener';

export interface S2sListenerOptions {
  host: string;
  port: number;
  /** XEP-0368 direct TLS (s2s.direct_tls_port); undefined: none. */
  directTlsPort?: number;
  /** Our certificate, and the CAs peers' certificates are checked against. */
  secureContext: SecureContext;
}

export interface RunningS2sListener {
  port: number;
  directTlsPort: number | undefined;
  close(): Promise<void>;
}

export async function startS2sListener(manager: S2sManager, log: Logger, opts: S2sListenerOptions): Promise<RunningS2sListener> {
  const open = new Set<S2sIncomingStream>();
  const ctx = manager.incomingContext();
  /** Direct TLS sockets still in their handshake: counted toward s2s.max_connections, dropped on close. */
  const handshaking = new Set<Socket>();
  const admitted = (socket: Socket): boolean => {
    if (manager.connectionCount + handshaking.size >= manager.settings.maxConnections) {
      log.warn({ ip: normalizeAddress(socket.remoteAddress ?? '') }, 's2s.max_connections reached: connection refused');
      socket.destroy();
      return false;
    }
    return true;
  };
  const startStream = (socket: Socket): void => {
    const conn = new SocketConnection(socket, opts.secureContext, manager.settings.maxStanzaSize, {
      maxSendBuffer: manager.settings.maxSendBuffer,
      tlsHandshakeTimeoutMs: manager.settings.connectTimeoutMs,
      s2s: { requestCert: true },
    });
    const stream = new S2sIncomingStream(conn, ctx, log);
    open.add(stream);
    manager.addIncoming(stream);
    socket.once('close', () => open.delete(stream));
    // A peer that never authenticates holds a connection slot: not for longer than an outgoing set-up may take.
    const deadline = setTimeout(() => {
      if (stream.domains.size === 0) stream.close(new StreamError('connection-timeout', 'not authenticated in time'));
    }, manager.settings.connectTimeoutMs * 2);
    deadline.unref();
    socket.once('close', () => clearTimeout(deadline));
  };
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    if (admitted(socket)) startStream(socket);
  });
  await listen(tcp, opts.port, opts.host);
  let direct: NetServer | undefined;
  if (opts.directTlsPort !== undefined) {
    direct = createTcpServer({ noDelay: true }, (socket) => {
      if (!admitted(socket)) return;
      // XEP-0368 §3: TLS at once; the peer's certificate is asked for (SASL EXTERNAL, XEP-0178) but one that does not
      // validate is not refused here (dialback may still authenticate it). RFC 7301: a peer offering ALPN without
      // 'xmpp-server' fails the handshake (no_application_protocol); one offering none is accepted.
      const tlsSocket = new TLSSocket(socket, {
        isServer: true,
        secureContext: opts.secureContext,
        requestCert: true,
        rejectUnauthorized: false,
        ALPNProtocols: ['xmpp-server'],
      });
      handshaking.add(socket);
      const deadline = setTimeout(() => tlsSocket.destroy(), manager.settings.connectTimeoutMs);
      const settle = () => {
        clearTimeout(deadline);
        handshaking.delete(socket);
      };
      tlsSocket.once('secure', () => {
        settle();
        startStream(tlsSocket);
      });
      tlsSocket.once('close', settle);
      tlsSocket.on('error', () => tlsSocket.destroy());
    });
    try {
      await listen(direct, opts.directTlsPort, opts.host);
    } catch (err) {
      await closeServer(tcp);
      throw err;
    }
  }
  return {
    port: addressPort(tcp),
    directTlsPort: direct ? addressPort(direct) : undefined,
    close: async () => {
      const closed = Promise.all([closeServer(tcp), direct ? closeServer(direct) : undefined]);
      for (const s of open) s.close(new StreamError('system-shutdown'));
      for (const s of handshaking) s.destroy();
      await closed;
    },
  };
}
