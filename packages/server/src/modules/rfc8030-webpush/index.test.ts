// Web Push end to end: a browser-like subscriber (its own P-256 key pair and auth secret) registers over XMPP; a
// chat message for it while it has no client reaches a local HTTPS push endpoint, which checks the VAPID token
// (RFC 8292: ES256 JWT with aud, exp, sub, signed by the key the server announced) and decrypts the payload
// (RFC 8291 aes128gcm) with the subscriber's keys. A 410 drops the subscription; an online user gets no push.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { xml } from '@parley/protocol';
import { startTestServer, type TestServer } from '../../testing/harness';
import { ensureDevCertificate } from '../../net/dev-certificate';
import { VAPID_FILE } from './vapid';

const NS_PUSH = 'urn:parley:webpush:0';

interface PushRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A push service on loopback: records requests, answers 201, or 410 under /gone/. */
class PushEndpoint {
  readonly requests: PushRequest[] = [];
  private waiters: Array<() => void> = [];
  constructor(readonly server: Server) {
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(req.url?.startsWith('/gone/') ? 410 : 201);
        res.end();
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  async next(count: number, timeoutMs = 5000): Promise<PushRequest> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      if (Date.now() > deadline) throw new Error(`no push request ${count} after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.requests[count - 1];
  }
}

/** What a browser's PushManager holds: the ECDH key pair and the auth secret (RFC 8291 §3.2). */
function browserKeys(): { ecdh: ECDH; p256dh: string; auth: Buffer } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16) };
}

/** RFC 8291 §3.4 and RFC 8188 §2: decrypts a single-record aes128gcm body as the user agent does. */
function decrypt(body: Buffer, keys: { ecdh: ECDH; auth: Buffer }): string {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  assert.equal(idlen, 65, 'keyid is the application server public key');
  assert.ok(ciphertext.length <= rs, 'one record');
  const uaPublic = keys.ecdh.getPublicKey();
  const ecdhSecret = keys.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, keys.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // RFC 8188 §2: the last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  assert.equal(padded[end], 2, 'last-record delimiter');
  return padded.subarray(0, end).toString('utf8');
}

/** RFC 8292 §2 and §3: Authorization: vapid t=<JWT>, k=<public key>; the JWT is ES256 over header.claims. */
function checkVapid(headers: PushRequest['headers'], audience: string, announcedKey: string): Record<string, unknown> {
  const auth = String(headers.authorization);
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(auth);
  assert.ok(m, `Authorization: ${auth}`);
  const [token, k] = [m[1], m[2]];
  assert.equal(k, announcedKey, 'k is the key the server announced');
  const [h, c, s] = token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { typ: 'JWT', alg: 'ES256' });
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  const valid = verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  assert.ok(valid, 'the JWT signature verifies with the VAPID public key');
  assert.equal(claims.aud, audience);
  const now = Date.now() / 1000;
  assert.ok(typeof claims.exp === 'number' && claims.exp > now && claims.exp <= now + 24 * 3600 + 5, `exp within 24 h (§2): ${claims.exp}`);
  assert.equal(claims.sub, 'mailto:postmaster@localhost');
  return claims;
}

describe('Web Push (RFC 8030/8291/8292)', () => {
  let ts: TestServer;
  let push: PushEndpoint;
  let certDir: string;

  before(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'parley-push-cert-'));
    const paths = await ensureDevCertificate(certDir, 'localhost');
    const server = createServer({ cert: readFileSync(paths.certPath), key: readFileSync(paths.keyPath) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    push = new PushEndpoint(server);
    ts = await startTestServer();
    await ts.createUser('alice');
    await ts.createUser('bob');
  });
  after(async () => {
    await ts.stop();
    push.server.closeAllConnections();
    await new Promise((resolve) => push.server.close(resolve));
    rmSync(certDir, { recursive: true, force: true });
  });

  async function subscribe(user: string, endpoint: string, keys: { p256dh: string; auth: Buffer }, preview: boolean): Promise<string> {
    const c = await ts.client(user, { presence: false });
    const vapid = await c.iq(xml('iq', { type: 'get' }, xml('vapid', { xmlns: NS_PUSH })));
    assert.equal(vapid.attrs.type, 'result', vapid.toString());
    const publicKey = vapid.getChild('vapid', NS_PUSH)!.attrs['public-key']!;
    assert.equal(Buffer.from(publicKey, 'base64url').length, 65);
    const r = await c.iq(xml('iq', { type: 'set' }, xml('subscribe', { xmlns: NS_PUSH, endpoint, p256dh: keys.p256dh, auth: keys.auth.toString('base64url'), preview: String(preview) })));
    assert.equal(r.attrs.type, 'result', r.toString());
    await c.stop();
    return publicKey;
  }

  it('keeps the VAPID key pair in the data directory, owner-only', async () => {
    const path = join(ts.config.data_dir, VAPID_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(path, 'utf8')) as { publicKey: string };
    const c = await ts.client('alice', { presence: false });
    const vapid = await c.iq(xml('iq', { type: 'get' }, xml('vapid', { xmlns: NS_PUSH })));
    await c.stop();
    assert.equal(vapid.getChild('vapid', NS_PUSH)?.attrs['public-key'], stored.publicKey);
  });

  it('sends an encrypted push with sender and preview when no client is connected, signed with VAPID', async () => {
    const keys = browserKeys();
    const endpoint = `https://localhost:${push.port}/push/bob-1`;
    const announced = await subscribe('bob', endpoint, keys, true);
    const alice = await ts.client('alice');
    const before = push.requests.length;
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'Dinner at eight?')));
    const req = await push.next(before + 1);
    await alice.stop();
    assert.equal(req.path, '/push/bob-1');
    assert.equal(req.headers['content-encoding'], 'aes128gcm');
    assert.equal(req.headers.ttl, '86400');
    assert.equal(req.headers.urgency, 'high');
    checkVapid(req.headers, `https://localhost:${push.port}`, announced);
    const payload = JSON.parse(decrypt(req.body, keys)) as Record<string, string>;
    assert.equal(payload.title, 'alice@localhost');
    assert.equal(payload.body, 'Dinner at eight?');
  });

  it('sends no push while the user has a client online, and no text without preview', async () => {
    const keys = browserKeys();
    await ts.createUser('carol');
    await subscribe('carol', `https://localhost:${push.port}/push/carol-1`, keys, false);
    const carol = await ts.client('carol');
    const alice = await ts.client('alice');
    const before = push.requests.filter((r) => r.path === '/push/carol-1').length;
    await alice.send(xml('message', { to: 'carol@localhost', type: 'chat', id: 'm2' }, xml('body', {}, 'online?')));
    await carol.waitFor((el) => el.name === 'message' && el.attrs.id === 'm2');
    await carol.stop();
    await alice.send(xml('message', { to: 'carol@localhost', type: 'chat', id: 'm3' }, xml('body', {}, 'a secret')));
    await push.next(push.requests.length + 1);
    await alice.stop();
    const carols = push.requests.filter((r) => r.path === '/push/carol-1');
    assert.equal(carols.length, before + 1, 'only the message sent while offline was pushed');
    const payload = JSON.parse(decrypt(carols[carols.length - 1].body, keys)) as Record<string, string>;
    assert.equal(payload.body, 'New message');
    assert.equal(payload.title, 'alice@localhost');
  });

  it('drops a subscription the push service says is gone (410)', async () => {
    await ts.createUser('dave');
    await subscribe('dave', `https://localhost:${push.port}/gone/dave`, browserKeys(), true);
    const alice = await ts.client('alice');
    const count = () => push.requests.filter((r) => r.path === '/gone/dave').length;
    await alice.send(xml('message', { to: 'dave@localhost', type: 'chat' }, xml('body', {}, 'one')));
    await push.next(push.requests.length + 1);
    assert.equal(count(), 1);
    await new Promise((r) => setTimeout(r, 200));
    await alice.send(xml('message', { to: 'dave@localhost', type: 'chat' }, xml('body', {}, 'two')));
    // The message stays deliverable (offline storage); only the push is gone.
    await new Promise((r) => setTimeout(r, 700));
    await alice.stop();
    assert.equal(count(), 1, 'the dropped subscription got nothing more');
  });

  it('refuses subscriptions that are not HTTPS push endpoints with valid keys, and those for someone else', async () => {
    const c = await ts.client('alice', { presence: false });
    const keys = browserKeys();
    const attempt = (attrs: Record<string, string>, to?: string) =>
      c.iq(xml('iq', { type: 'set', to }, xml('subscribe', { xmlns: NS_PUSH, endpoint: `https://localhost:${push.port}/x`, p256dh: keys.p256dh, auth: keys.auth.toString('base64url'), ...attrs })));
    const condition = (el: { getChild(n: string): { children: unknown[] } | undefined }) =>
      (el.getChild('error')?.children.find((x) => typeof x === 'object') as { name?: string } | undefined)?.name;
    assert.equal(condition(await attempt({ endpoint: `http://localhost:${push.port}/x` })), 'bad-request');
    assert.equal(condition(await attempt({ p256dh: Buffer.alloc(65, 1).toString('base64url') })), 'bad-request');
    assert.equal(condition(await attempt({ auth: randomBytes(8).toString('base64url') })), 'bad-request');
    assert.equal(condition(await attempt({}, 'bob@localhost')), 'forbidden');
    await c.stop();
  });
});
