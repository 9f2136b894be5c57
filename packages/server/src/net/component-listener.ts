// The listener for external components (XEP-0114): plain TCP (the protocol has no STARTTLS, so it listens on
// loopback unless told otherwise), a bound on connections, the component stanza size limit, and the handshake
// deadline and per-address handshake rate of stream/component-policy.ts.
import { createServer as createTcpServer } from 'node:net';
import { StreamError } from '@parley/protocol';
import type { ParleyServer } from '../core/server';
import { ComponentSession, type ComponentSettings } from '../stream/component-policy';
import { SocketConnection, normalizeAddress } from './socket-connection';
import { addressPort, closeServer, listen } from './c2s-listener';

export interface ComponentListenerOptions extends ComponentSettings {
  host: string;
  port: number;
  maxStanzaSize: number;
  maxConnections: number;
}

export interface RunningComponentListener {
  port: number;
  close(): Promise<void>;
}

/** Bytes waiting behind a component's socket past which its stream ends with connection-timeout. */
const COMPONENT_SEND_BUFFER = 16 * 1024 * 1024;

export async function startComponentListener(server: ParleyServer, opts: ComponentListenerOptions): Promise<RunningComponentListener> {
  const open = new Set<ComponentSession>();
  const tcp = createTcpServer({ noDelay: true }, (socket) => {
    if (open.size >= opts.maxConnections) {
      socket.destroy();
      return;
    }
    // A gateway carries many users' traffic, so it may fall further behind than one client before it is taken for
    // one that stopped reading; the bound still keeps a stalled component from growing the server without limit.
    const conn = new SocketConnection(socket, undefined, opts.maxStanzaSize, {
      maxSendBuffer: COMPONENT_SEND_BUFFER,
      tlsHandshakeTimeoutMs: opts.handshakeTimeoutMs,
    });
    const session = new ComponentSession(server, conn, opts);
    open.add(session);
    socket.once('close', () => open.delete(session));
    server.log.debug({ ip: normalizeAddress(socket.remoteAddress ?? '') }, 'component connection');
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
