// The paths of the HTTP server (net/http-server.ts): modules register theirs through `ctx.http` (host-meta now;
// upload, the web app, metrics and the admin API next), the transports their upgrade endpoints (RFC 7395 WebSocket)
// and the connection methods host-meta names (XEP-0156). Every registration is a disposable.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Disposable } from './hooks';

/** What a handler knows about the request beyond node's objects. */
export interface HttpRequestInfo {
  /** Over HTTPS (http.tls_port). */
  readonly secure: boolean;
  /** The path without the query string. */
  readonly path: string;
  readonly url: URL;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, info: HttpRequestInfo) => void | Promise<void>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, info: HttpRequestInfo) => void;

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS' | 'PATCH';

/** XEP-0156: an alternative connection method, named in host-meta with its path on this server. */
export interface ConnectionMethod {
  /** urn:xmpp:alt-connections:websocket, urn:xmpp:alt-connections:xbosh */
  readonly rel: string;
  readonly path: string;
  /** WebSocket URLs are ws:/wss:, BOSH ones http:/https:. */
  readonly scheme: 'ws' | 'http';
}

interface Route {
  method: HttpMethod;
  /** An exact path, or a prefix ending in '/' when `prefix` is set. */
  path: string;
  prefix: boolean;
  handler: HttpHandler;
}

export class HttpRoutes {
  private readonly routes: Route[] = [];
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private readonly methods: ConnectionMethod[] = [];

  /**
   * Handles `method` on `path`; a path ending in '/*' covers everything under it (upload's per-file URLs). HEAD is
   * answered by a GET handler when no HEAD handler is registered.
   */
  route(method: HttpMethod, path: string, handler: HttpHandler): Disposable {
    const prefix = path.endsWith('/*');
    const route: Route = { method, path: prefix ? path.slice(0, -1) : path, prefix, handler };
    if (this.routes.some((r) => r.method === method && r.path === route.path && r.prefix === prefix)) {
      throw new Error(`an HTTP handler for ${method} ${path} is already registered`);
    }
    this.routes.push(route);
    return remover(this.routes, route);
  }

  /** An endpoint that takes over the connection on an HTTP Upgrade (RFC 6455 §4). */
  upgrade(path: string, handler: UpgradeHandler): Disposable {
    if (this.upgrades.has(path)) throw new Error(`an upgrade handler for ${path} is already registered`);
    this.upgrades.set(path, handler);
    return {
      dispose: () => {
        if (this.upgrades.get(path) === handler) this.upgrades.delete(path);
      },
    };
  }

  /** Names a connection method in host-meta (XEP-0156) while registered. */
  advertise(method: ConnectionMethod): Disposable {
    this.methods.push(method);
    return remover(this.methods, method);
  }

  get connectionMethods(): readonly ConnectionMethod[] {
    return this.methods;
  }

  /** The handler for a request, 'method-not-allowed' when the path exists for other methods, or undefined. */
  find(method: string, path: string): HttpHandler | 'method-not-allowed' | undefined {
    const matching = this.routes.filter((r) => (r.prefix ? path.startsWith(r.path) : path === r.path));
    if (matching.length === 0) return undefined;
    // The most specific route first: an exact path over a prefix, a longer prefix over a shorter one.
    matching.sort((a, b) => Number(a.prefix) - Number(b.prefix) || b.path.length - a.path.length);
    const found = matching.find((r) => r.method === method) ?? (method === 'HEAD' ? matching.find((r) => r.method === 'GET') : undefined);
    return found ? found.handler : 'method-not-allowed';
  }

  findUpgrade(path: string): UpgradeHandler | undefined {
    return this.upgrades.get(path);
  }
}

function remover<T>(list: T[], item: T): Disposable {
  return {
    dispose: () => {
      const i = list.indexOf(item);
      if (i !== -1) list.splice(i, 1);
    },
  };
}
