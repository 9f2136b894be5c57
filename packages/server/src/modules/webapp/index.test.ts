// The chat app's static files on the HTTP listener: content types, caching and revalidation, gzip, the CSP, the
// 404 for what is not a file of the app, paths that try to leave the root, and a clear 503 before the app is built.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../../testing/harness';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw HTTP request (fetch would decompress and normalise the path). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web app: static files', () => {
  let ts: TestServer;
  let dir: string;
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-webapp-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Parley</title><div id="app"></div>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), script);
    writeFileSync(join(dir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    writeFileSync(join(dir, 'manifest.webmanifest'), '{"name":"Parley"}');
    writeFileSync(join(dir, '.env'), 'SECRET=1');
    writeFileSync(join(tmpdir(), 'parley-webapp-outside.txt'), 'outside');
    ts = await startTestServer({ modules: { options: { webapp: { dir } } } } as never);
  });
  after(async () => {
    await ts.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page at / with a CSP that keeps every request on this server', async () => {
    const r = await get(ts.httpPort, '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    // The app PUTs uploads (XEP-0363) to this server's HTTPS port and shows images from there: that origin only.
    const upload = `https://${ts.domain}:${ts.httpsPort}`.replace(/\./g, '\\.');
    assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${ts.httpPort} ${upload}(;|$)`));
    assert.match(csp, new RegExp(`img-src 'self' data: blob: ${upload}(;|$)`));
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(r.body.toString(), /<div id="app">/);
  });

  it('caches hashed assets for a year and revalidates the rest with an ETag (304)', async () => {
    const asset = await get(ts.httpPort, '/assets/index-abc123.js');
    assert.equal(asset.status, 200);
    assert.equal(asset.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(asset.body.toString(), script);

    const sw = await get(ts.httpPort, '/sw.js');
    assert.equal(sw.headers['cache-control'], 'no-cache');
    const etag = String(sw.headers.etag);
    const again = await get(ts.httpPort, '/sw.js', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);

    const manifest = await get(ts.httpPort, '/manifest.webmanifest');
    assert.equal(manifest.headers['content-type'], 'application/manifest+json; charset=utf-8');
  });

  it('compresses for browsers that accept gzip, and answers HEAD without a body', async () => {
    const r = await get(ts.httpPort, '/assets/index-abc123.js', { 'Accept-Encoding': 'gzip, deflate, br' });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(r.body).toString(), script);
    const head = await get(ts.httpPort, '/assets/index-abc123.js', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(Buffer.byteLength(script)));
    assert.equal(head.body.length, 0);
  });

  it('answers 404 for anything that is not a file of the app', async () => {
    assert.equal((await get(ts.httpPort, '/chat/alice@localhost')).status, 404);
    assert.equal((await get(ts.httpPort, '/assets/missing.js')).status, 404);
    assert.equal((await get(ts.httpPort, '/assets/')).status, 404);
  });

  it('never serves a file outside its directory, or a dotfile', async () => {
    for (const path of ['/../parley-webapp-outside.txt', '/%2e%2e/parley-webapp-outside.txt', '/assets/..%2f..%2fparley-webapp-outside.txt', '/.env', '/%2eenv', '/a%00.js']) {
      const r = await get(ts.httpPort, path);
      assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      assert.doesNotMatch(r.body.toString(), /outside|SECRET/, path);
    }
  });

  it('keeps the other HTTP routes (host-meta) and says 503 while the app is not built', async () => {
    const hostMeta = await get(ts.httpPort, '/.well-known/host-meta.json');
    assert.equal(hostMeta.status, 200);
    assert.match(hostMeta.body.toString(), /xmpp-websocket/);

    const empty = mkdtempSync(join(tmpdir(), 'parley-webapp-empty-'));
    const unbuilt = await startTestServer({ modules: { options: { webapp: { dir: empty } } } } as never);
    try {
      const r = await get(unbuilt.httpPort, '/');
      assert.equal(r.status, 503);
      assert.match(r.body.toString(), /npm run build:web/);
    } finally {
      await unbuilt.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
