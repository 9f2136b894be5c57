// Serving the built app from one directory: content types, caching (hashed assets forever, the rest revalidated
// with an ETag, RFC 9111 §5.2.2 / RFC 9110 §13.1.2), gzip when the browser takes it, and no path outside the root.
import { readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.webmanifest', '.svg', '.txt', '.map']);

export interface StaticFile {
  body: Buffer;
  gzipped?: Buffer;
  type: string;
  etag: string;
  /** Vite's content-hashed files under assets/ never change: cached for a year. */
  immutable: boolean;
}

export class StaticFiles {
  private readonly cache = new Map<string, { mtimeMs: number; size: number; file: StaticFile }>();

  constructor(readonly root: string) {}

  /** Whether the root holds a built app. */
  get isBuilt(): boolean {
    try {
      return statSync(join(this.root, 'index.html')).isFile();
    } catch {
      return false;
    }
  }

  /**
   * The file for a URL path, or undefined. Paths are decoded once, and anything that would leave the root
   * (`..`, encoded slashes or backslashes, NUL) or name a dotfile is not found.
   */
  get(urlPath: string): StaticFile | undefined {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0') || decoded.includes('\\') || decoded.split('/').some((part) => part.startsWith('.'))) return undefined;
    const relative = normalize(decoded).replace(/^[/\\]+/, '');
    const full = join(this.root, relative);
    if (full !== this.root && !full.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) return undefined;
    let stat;
    try {
      stat = statSync(full);
    } catch {
      return undefined;
    }
    if (!stat.isFile()) return undefined;
    const cached = this.cache.get(full);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.file;
    const ext = extname(full).toLowerCase();
    const body = readFileSync(full);
    const file: StaticFile = {
      body,
      gzipped: COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body) : undefined,
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${stat.size.toString(36)}-${Math.floor(stat.mtimeMs).toString(36)}"`,
      immutable: relative.startsWith(`assets${sep}`) || relative.startsWith('assets/'),
    };
    this.cache.set(full, { mtimeMs: stat.mtimeMs, size: stat.size, file });
    return file;
  }
}
