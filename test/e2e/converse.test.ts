// converse.js (a full web client, npm converse.js 14, an ES module) in headless Chromium against a real Parley:
// it logs in over WebSocket (RFC 7395) and over BOSH (XEP-0124/0206), chats with a TCP client (xmpp.js) both ways
// and joins a room (XEP-0045) where the other user reads what it says. It shows the history of the chat from the
// server's archive (XEP-0313) and sends an image through HTTP File Upload (XEP-0363) that the other user receives as a
// link (with XEP-0066 OOB) and downloads byte for byte. The page is served from a small static server
// on loopback — another origin than Parley's, so the Origin allow-list and CORS are exercised as a deployed web
// client meets them — and converse is configured to ask nothing of the internet; any request leaving loopback is
// blocked and fails the test. Screenshots go to a temporary directory (printed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xml } from '@parley/protocol';
import { CHROMIUM, checkerboardPng, launchChromium } from './browser';
import { startTestServer, type TestServer } from '../../packages/server/src/testing/harness';

const DIST = fileURLToPath(new URL('../../node_modules/converse.js/dist/', import.meta.url));
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (apt-get install -y chromium)` : !existsSync(DIST) ? 'converse.js is not installed (npm install)' : false;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.map': 'application/json',
};


/** GET over HTTPS, the test server's self-signed certificate accepted. */
function fetchInsecure(url: string): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** The page: converse with a test plugin that hands its API to the test, and nothing fetched from elsewhere. */
function page(settings: Record<string, unknown>): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>converse.js on Parley</title><link rel="stylesheet" href="/dist/converse.min.css"></head>
<body>
<script type="module">
import converse from '/dist/converse.js';
converse.plugins.add('parley-test', { initialize() { window.parleyTest = this._converse.api; } });
converse.initialize(Object.assign(${JSON.stringify(settings)}, { whitelisted_plugins: ['parley-test'] }));
</script></body></html>`;
}

/** A static server on loopback for the page and converse's files. */
function startPageServer(): Promise<{ server: Server; origin: string; setPage(html: string): void }> {
  let html = '';
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'Content-Type': TYPES['.html']! });
      return void res.end(html);
    }
    if (path.startsWith('/dist/')) {
      const file = normalize(join(DIST, decodeURIComponent(path.slice('/dist/'.length))));
      if (file.startsWith(DIST) && existsSync(file) && statSync(file).isFile()) {
        res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
        return void res.end(readFileSync(file));
      }
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ server, origin: `http://127.0.0.1:${port}`, setPage: (h) => void (html = h) });
    });
  });
}

describe('converse.js in Chromium', { skip }, () => {
  let ts: TestServer;
  let pages: Awaited<ReturnType<typeof startPageServer>>;
  let browser: import('playwright-core').Browser;
  const shots = mkdtempSync(join(tmpdir(), 'parley-converse-'));

  before(async () => {
    pages = await startPageServer();
    ts = await startTestServer({
      websocket: { allowed_origins: [pages.origin] },
      bosh: { allowed_origins: [pages.origin] },
    } as never);
    for (const u of ['alice', 'bob', 'carol', 'dave']) await ts.createUser(u);
    browser = await launchChromium();
    console.log(`# converse.js screenshots in ${shots}`);
  });
  after(async () => {
    await browser?.close();
    await ts?.stop();
    pages?.server.close();
  });

  for (const transport of ['websocket', 'bosh'] as const) {
    it(`logs in over ${transport === 'websocket' ? 'WebSocket' : 'BOSH'}, shows archived history, chats with a TCP client, uploads an image and joins a room`, { timeout: 120_000 }, async () => {
      const [user, peer, room] = transport === 'websocket' ? ['alice', 'bob', 'ws-room'] : ['carol', 'dave', 'bosh-room'];
      const service =
        transport === 'websocket'
          ? { websocket_url: `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket` }
          : { bosh_service_url: `http://127.0.0.1:${ts.httpPort}/http-bind` };
      pages.setPage(
        page({
          ...service,
          assets_path: '/dist/',
          authentication: 'login',
          auto_login: true,
          jid: `${user}@localhost`,
          password: 'secret',
          discover_connection_methods: false,
          // Fullscreen's login page shows sponsors' logos from conversejs.org; the overlayed view has none.
          view_mode: 'overlayed',
          show_controlbox_by_default: true,
          allow_registration: false,
          allow_non_roster_messaging: true,
          muc_search_service: '',
          xmpp_providers_url: '',
          autocomplete_providers_url: '',
          // OMEMO loads a WebAssembly curve library the test does not need.
          blacklisted_plugins: ['converse-omemo'],
          play_sounds: false,
          persistent_store: 'sessionStorage',
          loglevel: 'warn',
        }),
      );
      // The upload URLs are https on the test server's HTTPS port, whose certificate is self-signed: this context
      // (and only it) accepts it, as a browser whose user trusts the server's certificate would.
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const tab = await context.newPage();
      const external: string[] = [];
      // Which transport converse really used: BOSH requests and WebSockets opened.
      const used = { bosh: 0, websocket: 0 };
      tab.on('websocket', (ws) => {
        if (ws.url().endsWith('/xmpp-websocket')) used.websocket++;
      });
      // Nothing leaves loopback: what converse would fetch from the internet is recorded and refused.
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.pathname === '/http-bind') used.bosh++;
        // localhost is the test server's domain, so upload URLs name it; Chromium resolves it to loopback only.
        if (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
        external.push(url.href);
        return route.abort();
      });
      const errors: string[] = [];
      tab.on('pageerror', (err) => errors.push(err.message));
      const shot = (name: string) => tab.screenshot({ path: join(shots, `${transport}-${name}.png`) });
      try {
        const tcp = await ts.client(peer, { resource: 'tcp' });
        // Before converse logs in, the user on another client and the peer exchange two messages; both are delivered
        // at once (no offline storage), so converse can learn of them only from the archive (XEP-0313).
        const earlier = await ts.client(user, { resource: 'earlier' });
        const archived = [`archived: ${peer} asked earlier`, `archived: ${user} answered earlier`];
        await tcp.send(xml('message', { to: earlier.jid, type: 'chat', id: 'mam1' }, xml('body', null, archived[0])));
        await earlier.waitFor((el) => el.name === 'message' && el.getChildText('body') === archived[0], 10_000);
        await earlier.send(xml('message', { to: `${peer}@localhost`, type: 'chat', id: 'mam2' }, xml('body', null, archived[1])));
        await tcp.waitFor((el) => el.name === 'message' && el.getChildText('body') === archived[1], 10_000);
        await earlier.stop();

        await tab.goto(pages.origin);
        // Logged in: converse's own status says so, and the server holds the session.
        await tab.waitForFunction(() => (globalThis as unknown as { parleyTest?: { connection: { connected(): boolean } } }).parleyTest?.connection.connected() === true, null, { timeout: 30_000 });
        const jid = await tab.evaluate(() => (globalThis as unknown as { parleyTest: { connection: { get(): { jid: string } } } }).parleyTest.connection.get().jid);
        assert.match(jid, new RegExp(`^${user}@localhost/`));
        await shot('1-logged-in');

        // The TCP client writes; converse opens the chat and shows it.
        await tcp.send(xml('message', { to: jid, type: 'chat', id: 'tcp1' }, xml('body', null, `hello from ${peer}`)));
        // converse lists the conversation with an unread count; the user opens it.
        await tab.locator('converse-roster a.open-chat', { hasText: `${peer}@localhost` }).first().click({ timeout: 20_000 });
        await tab.getByText(`hello from ${peer}`).first().waitFor({ timeout: 20_000 });
        // The history from the archive is there, the user's own message from the other client too, before the new one.
        const chat = tab.locator('converse-chat .chat-content').first();
        for (const text of archived) await chat.getByText(text).first().waitFor({ timeout: 20_000 });
        const shown = (await chat.innerText()).replace(/\s+/g, ' ');
        const order = [...archived, `hello from ${peer}`].map((t) => shown.indexOf(t));
        assert.deepEqual([...order].sort((a, b) => a - b), order, `archived messages out of order in: ${shown}`);
        // The user answers by typing in converse's chat box.
        const textarea = tab.locator('converse-chat textarea.chat-textarea').first();
        await textarea.fill(`hi ${peer}, this is ${user} in converse`);
        await textarea.press('Enter');
        const reply = await tcp.waitFor((el) => el.name === 'message' && el.getChildText('body') === `hi ${peer}, this is ${user} in converse`, 20_000);
        assert.equal(reply.attrs.from, jid);
        await shot('2-chat');

        // An image through HTTP File Upload (XEP-0363): the user picks a file, converse asks upload.localhost for a
        // slot, PUTs the file cross-origin and sends the GET URL as the body and as an XEP-0066 OOB URL.
        const png = checkerboardPng(transport.length, 48);
        const fileInput = tab.locator('converse-chat input.fileupload').first();
        await fileInput.waitFor({ state: 'attached', timeout: 20_000 });
        await fileInput.setInputFiles({ name: `${user}.png`, mimeType: 'image/png', buffer: png });
        const withFile = await tcp.waitFor((el) => el.name === 'message' && (el.getChildText('body') ?? '').includes('/upload/'), 30_000);
        const url = withFile.getChildText('body')!;
        assert.equal(withFile.attrs.from, jid);
        assert.match(url, new RegExp(`^https://localhost:${ts.httpsPort}/upload/[A-Za-z0-9_-]{32}/${user}\\.png$`));
        assert.equal(withFile.getChild('x', 'jabber:x:oob')?.getChildText('url'), url);
        const downloaded = await fetchInsecure(url);
        assert.equal(downloaded.status, 200);
        assert.equal(downloaded.type, 'image/png');
        assert.ok(downloaded.body.equals(png), 'the downloaded file differs from the uploaded one');
        // converse shows the image in the chat, loaded from the server.
        await tab.waitForFunction(
          (u) => {
            type Img = { src: string; complete: boolean; naturalWidth: number };
            const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<Img> } }).document;
            return [...doc.querySelectorAll('converse-chat img')].some((img) => img.src === u && img.complete && img.naturalWidth === 48);
          },
          url,
          { timeout: 20_000 },
        );
        await shot('3-image');

        // A room (XEP-0045): the TCP client creates it, converse joins, and what the user says reaches the room.
        const roomJid = `${room}@conference.localhost`;
        await tcp.send(xml('presence', { to: `${roomJid}/${peer}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
        await tcp.waitFor((el) => el.name === 'presence' && el.attrs.from === `${roomJid}/${peer}`);
        await tcp.iq(xml('iq', { type: 'set', to: roomJid }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }))));
        await tab.evaluate(([r, nick]) => (globalThis as unknown as { parleyTest: { rooms: { open(j: string, o: object, force: boolean): Promise<unknown> } } }).parleyTest.rooms.open(r!, { nick }, true), [roomJid, user]);
        await tcp.waitFor((el) => el.name === 'presence' && el.attrs.from === `${roomJid}/${user}` && el.attrs.type === undefined, 20_000);
        const roomInput = tab.locator('converse-muc textarea.chat-textarea').first();
        await roomInput.waitFor({ timeout: 20_000 });
        await roomInput.fill(`${user} says hi to the room`);
        await roomInput.press('Enter');
        await tcp.waitFor((el) => el.name === 'message' && el.attrs.type === 'groupchat' && el.getChildText('body') === `${user} says hi to the room`, 20_000);
        await tcp.send(xml('message', { to: roomJid, type: 'groupchat' }, xml('body', null, `${peer} answers in the room`)));
        await tab.getByText(`${peer} answers in the room`).first().waitFor({ timeout: 20_000 });
        await shot('4-room');

        if (transport === 'websocket') assert.ok(used.websocket === 1 && used.bosh === 0, JSON.stringify(used));
        else assert.ok(used.bosh > 3 && used.websocket === 0, JSON.stringify(used));
        assert.deepEqual(external, [], 'converse asked the internet for something');
        assert.deepEqual(errors, []);
        await tcp.stop();
      } catch (err) {
        await shot('failure').catch(() => {});
        throw err;
      } finally {
        await context.close();
      }
    });
  }
});
