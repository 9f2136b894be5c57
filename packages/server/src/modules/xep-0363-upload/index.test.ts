// XEP-0363 end to end: slot requests over XMPP (xmpp.js), uploads and downloads over the test server's HTTPS port
// with node's own HTTP client, so every header and status is what a real client gets.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { XmlElement } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../../testing/harness';

const UPLOAD = 'urn:xmpp:http:upload:0';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTPS request with exactly these headers (a wrong Content-Length included). */
function http(url: string, method: string, headers: Record<string, string | number> = {}, body?: Buffer): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false, lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never, undefined as never) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function requestSlot(c: TestClient, filename: string, size: number, type?: string): Promise<XmlElement> {
  const ct = type === undefined ? '' : ` content-type='${type}'`;
  return c.iq(`<iq type='get' to='upload.localhost'><request xmlns='${UPLOAD}' filename='${filename}' size='${size}'${ct}/></iq>`);
}

async function slot(c: TestClient, filename: string, size: number, type?: string): Promise<{ put: string; get: string }> {
  const reply = await requestSlot(c, filename, size, type);
  assert.equal(reply.attrs.type, 'result', reply.toString());
  const s = reply.getChild('slot', UPLOAD)!;
  return { put: s.getChild('put')!.attrs.url!, get: s.getChild('get')!.attrs.url! };
}

async function upload(c: TestClient, filename: string, body: Buffer, type: string): Promise<string> {
  const { put, get } = await slot(c, filename, body.length, type);
  const res = await http(put, 'PUT', { 'Content-Type': type, 'Content-Length': body.length }, body);
  assert.equal(res.status, 201, res.body.toString());
  return get;
}

describe('XEP-0363 HTTP file upload', () => {
  let ts: TestServer;
  let alice: TestClient;
  before(async () => {
    ts = await startTestServer({ modules: { options: { upload: { max_file_size: 1_000_000, quota_bytes: 2_500_000 } } } } as never);
    for (const u of ['alice', 'bob']) await ts.createUser(u);
    alice = await ts.client('alice');
  });
  after(() => ts.stop());

  it('§3: the service is in disco, with max-file-size in a XEP-0128 form', async () => {
    const info = await alice.iq(`<iq type='get' to='upload.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const q = info.getChild('query')!;
    assert.ok(q.getChildren('identity').some((i) => i.attrs.category === 'store' && i.attrs.type === 'file'));
    assert.ok(q.getChildren('feature').some((f) => f.attrs.var === UPLOAD));
    const form = q.getChild('x', 'jabber:x:data')!;
    const field = (v: string) => form.getChildren('field').find((f) => f.attrs.var === v)?.getChildText('value');
    assert.equal(field('FORM_TYPE'), UPLOAD);
    assert.equal(field('max-file-size'), '1000000');
  });

  it('§4/§5: an upload round-trips byte-identical through PUT and GET; the slot is used once', async () => {
    const body = randomBytes(700_000);
    const { put, get } = await slot(alice, 'très cool.png', body.length, 'image/png');
    assert.equal(put, get);
    assert.match(put, new RegExp(`^https://localhost:${ts.httpsPort}/upload/[A-Za-z0-9_-]{32}/tr%C3%A8s%20cool\\.png$`));
    assert.equal((await http(put, 'PUT', { 'Content-Type': 'image/png', 'Content-Length': body.length }, body)).status, 201);
    const res = await http(get, 'GET');
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(body), 'the same bytes come back');
    assert.equal(res.headers['content-type'], 'image/png');
    assert.match(res.headers['content-disposition']!, /^inline; filename="tr_s cool.png"; filename\*=UTF-8''tr%C3%A8s%20cool.png$/);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    // A second PUT to the same slot is refused, and the file stays as it was.
    const again = await http(put, 'PUT', { 'Content-Type': 'image/png', 'Content-Length': body.length }, randomBytes(body.length));
    assert.equal(again.status, 409);
    assert.ok((await http(get, 'GET')).body.equals(body));
  });

  it('§4.2: a request over the limit gets file-too-large with the limit', async () => {
    const reply = await requestSlot(alice, 'big.bin', 1_000_001);
    assert.equal(reply.attrs.type, 'error');
    const error = reply.getChild('error')!;
    assert.equal(error.attrs.type, 'modify');
    assert.ok(error.getChild('not-acceptable', STANZAS));
    assert.equal(error.getChild('file-too-large', UPLOAD)?.getChildText('max-file-size'), '1000000');
  });

  it('refuses a PUT with another length or type than announced, a guessed slot, and a bad request', async () => {
    const body = randomBytes(1000);
    const { put, get } = await slot(alice, 'a.bin', body.length, 'application/octet-stream');
    assert.equal((await http(put, 'PUT', { 'Content-Type': 'application/octet-stream', 'Content-Length': 999 }, body.subarray(0, 999))).status, 400);
    assert.equal((await http(put, 'PUT', { 'Content-Type': 'text/html', 'Content-Length': 1000 }, body)).status, 400);
    assert.equal((await http(get, 'GET')).status, 404, 'nothing was stored');
    const guessed = put.replace(/\/upload\/[^/]+\//, `/upload/${randomBytes(24).toString('base64url')}/`);
    assert.equal((await http(guessed, 'PUT', { 'Content-Type': 'application/octet-stream', 'Content-Length': 1000 }, body)).status, 403);
    // The slot is still good for the one right upload.
    assert.equal((await http(put, 'PUT', { 'Content-Type': 'application/octet-stream', 'Content-Length': 1000 }, body)).status, 201);
    const bad = await requestSlot(alice, '../x', 10);
    assert.ok(bad.getChild('error')?.getChild('bad-request', STANZAS));
  });

  it('serves HTML and SVG inert: attachment, nosniff, a sandboxing CSP; preflight allows a cross-origin PUT', async () => {
    for (const [name, type] of [['page.html', 'text/html'], ['pic.svg', 'image/svg+xml']] as const) {
      const get = await upload(alice, name, Buffer.from(`<script>alert(document.domain)</script>`), type);
      const res = await http(get, 'GET');
      assert.equal(res.status, 200);
      assert.match(res.headers['content-disposition']!, new RegExp(`^attachment; filename="${name.replace('.', '\\.')}"`));
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['content-security-policy'], "default-src 'none'; sandbox");
    }
    const pre = await http(`https://localhost:${ts.httpsPort}/upload/x/y`, 'OPTIONS', { Origin: 'https://web.example', 'Access-Control-Request-Method': 'PUT' });
    assert.equal(pre.status, 204);
    assert.match(pre.headers['access-control-allow-methods']!, /PUT/);
    assert.match(pre.headers['access-control-allow-headers']!, /Content-Type/);
  });

  it('enforces the per-user quota (files and open slots together), and only for local users', async () => {
    const bob = await ts.client('bob');
    await upload(bob, 'one.bin', randomBytes(1_000_000), 'application/octet-stream');
    await slot(bob, 'two.bin', 1_000_000); // open, not yet used: it counts too
    const third = await requestSlot(bob, 'three.bin', 600_000);
    assert.equal(third.attrs.type, 'error');
    assert.ok(third.getChild('error')?.getChild('resource-constraint', STANZAS), third.toString());
    assert.equal((await requestSlot(bob, 'small.bin', 400_000)).attrs.type, 'result');
  });
});

describe('XEP-0363 expiry', () => {
  it('deletes files older than expire_after_days in the periodic sweep', async () => {
    const ts = await startTestServer({ modules: { options: { upload: { expire_after_days: 1.5 / 86_400, sweep_interval_s: 1 } } } } as never);
    try {
      await ts.createUser('carol');
      const carol = await ts.client('carol');
      const get = await upload(carol, 'old.txt', Buffer.from('soon gone'), 'text/plain');
      assert.equal((await http(get, 'GET')).status, 200);
      const dir = join(ts.config.data_dir, 'upload');
      assert.equal(readdirSync(dir).length, 2, 'the file and its info');
      const deadline = Date.now() + 6000;
      while ((await http(get, 'GET')).status !== 404) {
        assert.ok(Date.now() < deadline, 'the file expired');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual(readdirSync(dir), []);
      assert.ok(existsSync(dir));
    } finally {
      await ts.stop();
    }
  });
});
