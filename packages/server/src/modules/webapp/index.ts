// The Parley chat app (packages/web, built by `npm install`) served at / on the HTTP listeners, next to the
// WebSocket endpoint it connects to. The app has one page (no client-side routes), so any other path is a file of
// the build or 404.
// Every response carries a Content-Security-Policy that lets the page load and connect only to this server
// (nothing leaves it: fonts, icons and emoji ship with the app).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { defineModule } from '../../core/module-api';
import type { HttpRequestInfo } from '../../core/http-routes';
import { options, type WebAppOptions } from './options';
import { StaticFiles, type StaticFile } from './static-files';

/** packages/web/dist, from packages/server/src/modules/webapp/. */
const DEFAULT_DIR = fileURLToPath(new URL('../../../../web/dist', import.meta.url));

export default defineModule<WebAppOptions>({
  name: 'webapp',
  specs: [],
  options: options as unknown as z.ZodType<WebAppOptions>,
  setup(ctx) {
    const files = new StaticFiles(resolve(ctx.options.dir ?? DEFAULT_DIR));
    if (!files.isBuilt) {
      ctx.log.warn({ dir: files.root }, "the chat app is not built (run 'npm run build:web'); / answers 503 until it is");
    }

    ctx.http.route('GET', '/*', (req: IncomingMessage, res: ServerResponse, info: HttpRequestInfo) => {
      if (!files.isBuilt) {
        return plain(res, 503, "The Parley chat app is not built yet: run 'npm run build:web' (or 'npm install') and reload.\n");
      }
      const file = files.get(info.path === '/' ? '/index.html' : info.path);
      if (!file) return plain(res, 404, 'Not Found\n');
      send(req, res, file, info, uploadOrigin());
    });

    /**
     * Where XEP-0363 uploads go (upload's base_url, by default this server's HTTPS port): the app PUTs files there
     * and shows images from there, so the CSP names it. Derived from the configuration the upload module reads.
     */
    function uploadOrigin(): string | undefined {
      const { config, domain } = ctx.server;
      if (config.services.upload === false || config.modules.disabled.includes('upload')) return undefined;
      const base = config.modules.options.upload?.base_url;
      if (typeof base === 'string') {
        try {
          return new URL(base).origin;
        } catch {
          return undefined;
        }
      }
      const port = ctx.http.ports?.https ?? config.http.tls_port;
      return `https://${domain}${port === 443 ? '' : `:${port}`}`;
    }
  },
});

function contentSecurityPolicy(info: HttpRequestInfo, upload: string | undefined): string {
  // CSP3 'self' covers ws:/wss: to the same host in current browsers; the explicit URL keeps older ones working.
  const ws = `${info.secure ? 'wss' : 'ws'}://${info.url.host}`;
  const files = upload ? ` ${upload}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    // Avatars' colours are inline style attributes, never style elements or scripts.
    "style-src 'self' 'unsafe-inline'",
    `img-src 'self' data: blob:${files}`,
    `media-src 'self'${files}`,
    "font-src 'self'",
    `connect-src 'self' ${ws}${files}`,
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function send(req: IncomingMessage, res: ServerResponse, file: StaticFile, info: HttpRequestInfo, upload: string | undefined): void {
  const headers: Record<string, string | number> = {
    'Content-Type': file.type,
    ETag: file.etag,
    // RFC 9111 §5.2.2.2 no-cache: the page, the service worker and the manifest are revalidated every time, so a
    // new version shows at once; hashed assets never change.
    'Cache-Control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    Vary: 'Accept-Encoding',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': contentSecurityPolicy(info, upload),
  };
  // RFC 9110 §13.1.2: a matching If-None-Match gets 304 without the body.
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').some((t) => t.trim() === file.etag || t.trim() === '*')) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = file.gzipped && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? file.gzipped! : file.body;
  if (gzip) headers['Content-Encoding'] = 'gzip';
  headers['Content-Length'] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache' });
  res.end(text);
}
