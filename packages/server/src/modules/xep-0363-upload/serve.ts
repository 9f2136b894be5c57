// How an uploaded file goes back out over HTTP. Anyone may upload anything, so a file is served so that it cannot
// act on Parley's origin: an HTML or SVG file must not run script here (it could read host-meta, open WebSockets
// with the user's cookies, or phish). Content-Disposition makes the browser download what is not a plain image,
// audio or video; nosniff stops it guessing a type; the sandboxing Content-Security-Policy keeps a file that is
// shown anyway from running script or loading anything.
import type { ServerResponse } from 'node:http';
import type { StoredFileInfo } from './file-store';

/** Types a browser shows without running anything from them: never SVG (script inside), never HTML. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp', 'image/heic', 'image/heif']);

/** A plain media type token (RFC 6838 §4.2), parameters allowed (RFC 9110 §8.3.1). */
export const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"\\\r\n]*"|[A-Za-z0-9!#$&^_.+-]+))*$/;

function essence(type: string): string {
  return type.split(';')[0]!.trim().toLowerCase();
}

export function isShownInline(type: string | undefined): boolean {
  if (type === undefined) return false;
  const t = essence(type);
  return INLINE_IMAGES.has(t) || t.startsWith('audio/') || t.startsWith('video/');
}

/** Web clients on other origins upload with PUT and a Content-Type, and read files back (Fetch standard, CORS). */
export const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, PUT, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Max-Age': '86400',
};

/** RFC 6266 §4.3 with RFC 8187: an ASCII fallback name and the exact UTF-8 name. */
function disposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export function fileHeaders(info: StoredFileInfo): Record<string, string | number> {
  return {
    ...CORS,
    'Content-Type': info.type ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Content-Disposition': disposition(isShownInline(info.type) ? 'inline' : 'attachment', info.name),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    // The URL names one file for good: it never changes, so caches may keep it.
    'Cache-Control': 'public, max-age=31536000, immutable',
  };
}

export function replyText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...CORS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}
