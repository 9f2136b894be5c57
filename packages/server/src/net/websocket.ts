// The XMPP over WebSocket endpoint (RFC 7395) at /xmpp-websocket: the opening handshake with sub-protocol 'xmpp'
// (§3.1), an Origin allow-list against cross-site use from browsers (RFC 6455 §10.2), then a client stream under
// the same limits, authentication, routing and stream management as TCP (client-streams.ts).
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Disposable } from '../core/hooks';
import type { HttpRequestInfo, HttpRoutes } from '../core/http-routes';
import type { ClientStreams } from './client-streams';
import { normalizeAddress } from './socket-connection';
import { WebSocketConnection, type WebSocketConnectionOptions } from './websocket-connection';

export const WEBSOCKET_PATH = '/xmpp-websocket';

export interface WebSocketEndpointOptions extends WebSocketConnectionOptions {
  /** Origins allowed to open a stream ('*' for any); empty: only pages served from the host the request named. */
  allowedOrigins: readonly string[];
  /** websocket.loopback_is_secure: a direct connection from this machine counts as secure (see isDirectLoopback). */
  loopbackIsSecure?: boolean;
}

/** Registers the endpoint with the HTTP server and names it in host-meta (XEP-0156). */
export function registerWebSocketEndpoint(routes: HttpRoutes, streams: ClientStreams, opts: WebSocketEndpointOptions): Disposable & { close(): void } {
  // Frames up to twice the stanza limit reach the parser, which answers an oversized stanza with policy-violation
  // (RFC 6120 §13.12); beyond that ws closes with 1009 without reading it.
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxStanzaSize * 2, clientTracking: false, handleProtocols: () => 'xmpp' });

  const upgrade = routes.upgrade(WEBSOCKET_PATH, (req: IncomingMessage, socket: Duplex, head: Buffer, _info: HttpRequestInfo) => {
    if (!isOriginAllowed(req, opts.allowedOrigins)) return refuse(socket, 403, 'Forbidden', 'this origin may not connect');
    // §3.1: the client asks for the sub-protocol 'xmpp'; a handshake without it is not XMPP.
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!protocols.includes('xmpp')) return refuse(socket, 400, 'Bad Request', "the WebSocket sub-protocol 'xmpp' is required (RFC 7395 §3.1)");
    const ip = normalizeAddress((socket as Socket).remoteAddress ?? '');
    const slot = streams.admit(ip, 'websocket');
    if (!slot) return refuse(socket, 503, 'Service Unavailable', 'too many connections');
    // Counted from here: an upgrade that never completes gives its slot back when the socket goes.
    socket.once('close', () => slot.release());
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new WebSocketConnection(ws, socket as Socket, opts, { loopback: opts.loopbackIsSecure === true && isDirectLoopback(req, ip) });
      const { release } = streams.open(conn, 'websocket', slot);
      ws.once('close', release);
    });
  });
  const advertised = routes.advertise({ rel: 'urn:xmpp:alt-connections:websocket', path: WEBSOCKET_PATH, scheme: 'ws' });
  return {
    dispose() {
      upgrade.dispose();
      advertised.dispose();
    },
    close() {
      wss.close();
    },
  };
}

/**
 * RFC 6455 §10.2: browsers send the page's origin; a page of another site must not use its visitor's network
 * position or cookies to reach us. Clients that are not browsers send none and are not limited here.
 */
export function isOriginAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes('*')) return true;
  if (allowed.length > 0) return allowed.some((a) => a.toLowerCase() === origin.toLowerCase());
  // Default: the same host as the request was made to (the page was served by this server or its host name).
  try {
    return new URL(origin).host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

/**
 * A connection from this machine that no proxy forwarded: what it carries never crosses a network, as for the
 * "potentially trustworthy" origins of W3C Secure Contexts §3.2 (browsers let http://localhost use secure-only APIs
 * for the same reason). A reverse proxy on the same host adds Forwarded (RFC 7239) or X-Forwarded-For, and its
 * clients then count as secure only if the proxy itself speaks TLS to us.
 */
export function isDirectLoopback(req: IncomingMessage, ip: string): boolean {
  const loopback = ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
  return loopback && req.headers.forwarded === undefined && req.headers['x-forwarded-for'] === undefined;
}

function refuse(socket: Duplex, status: number, reason: string, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
