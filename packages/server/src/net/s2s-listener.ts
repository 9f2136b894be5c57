// The server-to-server listener (RFC 6120, port 5269): plain TCP with STARTTLS required by the incoming stream
// policy (stream/s2s-in-policy.ts). The TLS context asks for the peer's certificate and trusts the system CAs and
// s2s.ca_file, so SASL EXTERNAL (XEP-0178) can be offered to a peer whose certificate validates; one that does not
// validate is still accepted for dialback (XEP-0220) unless the policy says otherwise. Connections are bounded by
// s2s.max_connections, counted with the outgoing ones.
import { createServer as createTcpServer } from 'node:net';
import type { SecureContext } from 'node:tls';
import { StreamError } from '@parley/protocol';
import type { S2sManager } from '../core/s2s-manager';
import type { Logger } from '../log';
import { S2sIncomingStream } from '../stream/s2s-in-policy';
import { SocketConnection, normalizeAddress } from './socket-connection';
import { addressPort, closeServer, listen } from './c2s-listener';

export interface S2sListenerOptions {
  host: string;
  port: number;
  /** Our certificate, and the CAs peers' certificates are checked against. */
  secureContext: SecureContext;
}

export interface RunningS2sListener {
  port: number;
  close(): Promise<void>;
}

export async function startS2sListener(manager: S2sManager, log: Logger, opts: S2sListenerOptions): Promise<RunningS2sListener> {
  const open = new Set<S2sIncomingStream>();
  const ctx = manager.incomingContext();
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    if (manager.connectionCount >= manager.settings.maxConnections) {
      log.warn({ ip: normalizeAddress(socket.remoteAddress ?? '') }, 's2s.max_connections reached: connection refused');
      socket.destroy();
      return;
    }
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
  });
  await listen(tcp, opts.port, opts.host);
  return {
    port: addressPort(tcp),
    close: async () => {
      const closed = closeServer(tcp);
      for (const s of open) s.close(new StreamError('system-shutdown'));
      await closed;
    },
  };
}
