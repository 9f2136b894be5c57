// The HTTP server: http.port (plain HTTP) and http.tls_port (HTTPS with the c2s certificate), dispatching to the
// routes modules and transports registered (core/http-routes.ts). node:http with a router of a few lines: the
// routes are few and exact, and every handler gets node's own request and response.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log';
import type { HttpRequestInfo, HttpRoutes } from '../core/http-routes';
import { addressPort, closeServer, listen } from './c2s-listener';

export interface HttpServerOptions {
  host: string;
  port: number;
  tlsPort: number;
  /** PEM certificate and key, the same as c2s uses. */
  tls: { cert: Buffer; key: Buffer };
}

export interface RunningHttpServer {
  ports: { http: number; https: number };
  close(): Promise<void>;
}

export async function startHttpServer(routes: HttpRoutes, log: Logger, opts: HttpServerOptions): Promise<RunningHttpServer> {
  const servers: Server[] = [];
  const sockets = new Set<Duplex>();
  const track = (server: Server, secure: boolean): Server => {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void handle(req, res, secure));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(req, socket, head, secure));
    server.on('connection', (socket: Duplex) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    servers.push(server);
    return server;
  };

  const info = (req: IncomingMessage, secure: boolean): HttpRequestInfo | undefined => {
    try {
      const url = new URL(req.url ?? '/', `${secure ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`);
      return { secure, path: url.pathname, url };
    } catch {
      return undefined;
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse, secure: boolean): Promise<void> {
    const request = info(req, secure);
    const found = request && routes.find(req.method ?? 'GET', request.path);
    if (!request) return reply(res, 400, 'Bad Request');
    if (found === undefined) return reply(res, 404, 'Not Found');
    if (found === 'method-not-allowed') return reply(res, 405, 'Method Not Allowed');
    try {
      await found(req, res, request);
    } catch (err) {
      log.error({ err, path: request.path }, 'HTTP handler failed');
      if (!res.headersSent) reply(res, 500, 'Internal Server Error');
      else res.destroy();
    }
  }

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, secure: boolean): void {
    socket.on('error', () => socket.destroy());
    // The endpoint owns the connection now, and closes it in its own way (RFC 6455 §7).
    sockets.delete(socket);
    const request = info(req, secure);
    const handler = request && routes.findUpgrade(request.path);
    if (!request || !handler) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    try {
      handler(req, socket, head, request);
    } catch (err) {
      log.error({ err, path: request.path }, 'HTTP upgrade failed');
      socket.destroy();
    }
  }

  const http = track(createHttpServer(), false);
  const https = track(createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }), true);
  https.on('tlsClientError', () => {});
  try {
    await listen(http, opts.port, opts.host);
    await listen(https, opts.tlsPort, opts.host);
  } catch (err) {
    await Promise.all(servers.filter((s) => s.listening).map(closeServer));
    throw err;
  }
  return {
    ports: { http: addressPort(http), https: addressPort(https) },
    async close() {
      const closed = Promise.all(servers.map(closeServer));
      // Idle keep-alive connections would hold close() open; streams were ended by their owners before.
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
