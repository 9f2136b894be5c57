// XEP-0156 §3: how a web client finds our alternative connection methods — /.well-known/host-meta (XRD, RFC 6415)
// and /.well-known/host-meta.json (JRD), naming every endpoint the transports advertised (WebSocket, BOSH). Served
// with CORS headers (§3.2.1 recommends them) so a web client on another origin can read them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { xml } from '@parley/protocol';
import { defineModule } from '../../core/module-api';
import type { ConnectionMethod, HttpRequestInfo } from '../../core/http-routes';

const XRD_NS = 'http://docs.oasis-open.org/ns/xri/xrd-1.0';

export default defineModule({
  name: 'host-meta',
  specs: [{ spec: 'XEP-0156', version: '1.4.0', status: 'partial', note: 'HTTP lookup (host-meta and host-meta.json); no DNS TXT records' }],
  setup(ctx) {
    const links = (info: HttpRequestInfo): { rel: string; href: string }[] =>
      ctx.http.connectionMethods.map((m) => ({ rel: m.rel, href: urlOf(m, info) }));

    const send = (res: ServerResponse, type: string, body: string): void => {
      res.writeHead(200, { ...CORS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'max-age=3600' });
      res.end(body);
    };

    // RFC 6415 §3: the XRD document.
    ctx.http.route('GET', '/.well-known/host-meta', (_req: IncomingMessage, res, info) => {
      const doc = xml('XRD', { xmlns: XRD_NS }, ...links(info).map((l) => xml('Link', { rel: l.rel, href: l.href })));
      send(res, 'application/xrd+xml; charset=utf-8', `<?xml version='1.0' encoding='utf-8'?>\n${doc.toString()}`);
    });
    // RFC 6415 Appendix A: the same as JSON.
    ctx.http.route('GET', '/.well-known/host-meta.json', (_req, res, info) => {
      send(res, 'application/json; charset=utf-8', JSON.stringify({ links: links(info) }));
    });
    // A preflight for a cross-origin request that is not "simple" (Fetch standard, CORS protocol).
    for (const path of ['/.well-known/host-meta', '/.well-known/host-meta.json']) {
      ctx.http.route('OPTIONS', path, (_req, res) => {
        res.writeHead(204, { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Max-Age': '86400' });
        res.end();
      });
    }
  },
});

const CORS = { 'Access-Control-Allow-Origin': '*' };

/**
 * The endpoint's absolute URL as the client reached us: same host, ws/wss or http/https after the request's scheme
 * (a client that fetched host-meta over HTTPS gets secure endpoints).
 */
function urlOf(method: ConnectionMethod, info: HttpRequestInfo): string {
  const secure = info.secure;
  const scheme = method.scheme === 'ws' ? (secure ? 'wss' : 'ws') : secure ? 'https' : 'http';
  return `${scheme}://${info.url.host}${method.path}`;
}
