// XMPP over BOSH (XEP-0124, XEP-0206) end to end, with raw HTTP requests: session creation, login with the stream
// restart, chat with a TCP client, rid order and repeats, the request window, bad sids and bodies, inactivity,
// pauses, polling too often, terminate, the bound on stanzas waiting for a client, the body size limit and CORS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xml, NS } from '@parley/protocol';
import { startTestServer, type TestServer } from '../testing/harness';
import { RawBoshClient, XBOSH } from '../testing/bosh-client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('XMPP over BOSH (XEP-0124, XEP-0206)', () => {
  let ts: TestServer;
  let url: string;
  before(async () => {
    ts = await startTestServer({
      bosh: { inactivity_s: 10, max_pause_s: 30, polling_s: 2, max_pending_stanzas: 20, allowed_origins: ['http://app.example'] },
      c2s: { max_stanza_size: 10_000 },
    } as never);
    url = `http://127.0.0.1:${ts.httpPort}/http-bind`;
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('creates a session with an unguessable sid, the negotiated parameters and the stream features', async () => {
    const c = new RawBoshClient(url);
    const r = await c.create({ hold: '3', wait: '600', ack: '1' });
    const b = r.body;
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/xml/);
    assert.equal(b.attrs.xmlns, 'http://jabber.org/protocol/httpbind');
    assert.match(b.attrs.sid ?? '', /^[A-Za-z0-9_-]{32}$/);
    // The client's hold and wait, at most the configured maxima (bosh.max_hold 1, bosh.max_wait_s 60).
    assert.equal(b.attrs.hold, '1');
    assert.equal(b.attrs.wait, '60');
    assert.equal(b.attrs.requests, '2');
    assert.equal(b.attrs.inactivity, '10');
    assert.equal(b.attrs.polling, '2');
    assert.equal(b.attrs.maxpause, '30');
    assert.equal(b.attrs.ver, '1.11');
    assert.equal(b.attrs.ack, String(c.rid), 'XEP-0124 §9.1: ack is the rid of the creation request');
    assert.equal(b.attrs.from, 'localhost');
    assert.ok(b.attrs.authid, 'the stream id');
    assert.equal(b.attrs['xmpp:version'], '1.0');
    assert.equal(b.attrs['xmlns:xmpp'], XBOSH);
    assert.equal(b.attrs['xmpp:restartlogic'], 'true');
    const mechanisms = b.getChild('features', NS.STREAM)?.getChild('mechanisms')?.getChildren('mechanism').map((m) => m.text());
    assert.ok(mechanisms?.includes('PLAIN'), r.text);
    const other = await new RawBoshClient(url).create();
    assert.notEqual(other.body.attrs.sid, b.attrs.sid);
  });

  it('logs in (SASL, xmpp:restart, bind) and chats both ways with a TCP client', async () => {
    const web = new RawBoshClient(url);
    const jid = await web.login('alice', 'bosh');
    assert.equal(jid, 'alice@localhost/bosh');
    const tcp = await ts.client('bob', { resource: 'tcp' });
    // A held request (hold 1) carries what arrives for the client as soon as it arrives.
    const held = web.send();
    await sleep(100);
    await tcp.send(xml('message', { to: jid, type: 'chat', id: 't1' }, xml('body', null, 'to the browser')));
    const got = await held;
    const msg = got.body.getChild('message');
    assert.equal(msg?.getChildText('body'), 'to the browser', got.text);
    assert.equal(msg?.attrs.xmlns, 'jabber:client', 'XEP-0206: stanzas are qualified by jabber:client');
    await web.send(`<message xmlns='jabber:client' to='${tcp.jid}' type='chat' id='b1'><body>from the browser</body></message>`);
    const back = await tcp.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'from the browser');
    assert.equal(back.attrs.from, jid);
    await tcp.stop();
  });

  it('processes requests in rid order and answers a repeated rid with the same response', async () => {
    const web = new RawBoshClient(url);
    const jid = await web.login('carol', 'bosh');
    const tcp = await ts.client('dave', { resource: 'tcp' });
    const base = web.rid;
    const stanza = (n: number) => `<message xmlns='jabber:client' to='${tcp.jid}' type='chat'><body>m${n}</body></message>`;
    // rid base+2 arrives first: it waits for base+1 (XEP-0124 §14.1), so m1 is routed before m2.
    const second = web.post(web.body(stanza(2), {}, base + 2));
    await sleep(150);
    assert.equal(tcp.received.filter((s) => s.name === 'message').length, 0, 'base+2 is not processed before base+1');
    const first = web.post(web.body(stanza(1), {}, base + 1));
    await tcp.waitFor((el) => el.getChildText('body') === 'm2');
    assert.deepEqual(
      tcp.received.filter((s) => s.name === 'message').map((s) => s.getChildText('body')),
      ['m1', 'm2'],
    );
    web.rid = base + 2;
    // With hold 1, the older of two held requests is answered at once.
    assert.equal((await first).body.attrs.type, undefined);
    await second;
    // §14.3: the same rid again gets the same response (the client's network lost it), and is not processed twice.
    const ping = `<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
    const pong = await web.send(ping);
    assert.equal(pong.body.getChild('iq')?.attrs.id, 'p1', pong.text);
    const again = await web.post(web.body(ping, {}, web.rid));
    assert.equal(again.text, pong.text);
    assert.ok(jid);
    await tcp.stop();
  });

  it('ends the session with item-not-found for an unknown sid and a rid beyond the window', async () => {
    const bad = new RawBoshClient(url);
    bad.sid = 'no-such-session';
    const r = await bad.send();
    assert.equal(r.body.attrs.type, 'terminate');
    assert.equal(r.body.attrs.condition, 'item-not-found');

    const c = new RawBoshClient(url);
    await c.create();
    // requests = 2: rid + 2 is still in the window, rid + 3 is not (§14.2).
    const far = await c.post(c.body('', {}, c.rid + 3));
    assert.equal(far.body.attrs.condition, 'item-not-found', far.text);
    const after = await c.send();
    assert.equal(after.body.attrs.condition, 'item-not-found', 'the session is over');
  });

  it('answers a body that is not a BOSH body with bad-request', async () => {
    const c = new RawBoshClient(url);
    for (const text of ['<body xmlns="jabber:client" rid="1"/>', '<body xmlns="http://jabber.org/protocol/httpbind" rid="1"', '<body xmlns="http://jabber.org/protocol/httpbind" to="localhost"/>']) {
      const r = await c.post(text);
      assert.equal(r.body.attrs.type, 'terminate', text);
      assert.equal(r.body.attrs.condition, 'bad-request', text);
    }
    const r = await c.post("<body xmlns='http://jabber.org/protocol/httpbind' rid='5' to='elsewhere.example' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>");
    assert.equal(r.body.attrs.condition, 'host-unknown');
    // RFC 6120 §11.6: bytes that are not UTF-8 are refused, not turned into U+FFFD.
    const bytes = Buffer.concat([Buffer.from("<body xmlns='http://jabber.org/protocol/httpbind' rid='6' to='localhost'>"), Buffer.from([0xc3, 0x28]), Buffer.from('</body>')]);
    const latin = await (await fetch(url, { method: 'POST', body: bytes })).text();
    assert.match(latin, /type='terminate' condition='bad-request'/);
  });

  it('ends a polling session (hold 0) that sends empty requests faster than polling', async () => {
    const c = new RawBoshClient(url);
    const created = await c.create({ hold: '0' });
    assert.equal(created.body.attrs.hold, '0');
    const first = await c.send();
    assert.equal(first.body.attrs.type, undefined, 'hold 0: answered at once');
    const second = await c.send();
    assert.equal(second.body.attrs.condition, 'policy-violation', second.text);
  });

  it('ends the session on type=terminate after the stanzas in the same body', async () => {
    const web = new RawBoshClient(url);
    const jid = await web.login('alice', 'leaving');
    const tcp = await ts.client('bob', { resource: 'watcher' });
    await web.send(`<message xmlns='jabber:client' to='${tcp.jid}' type='chat'><body>last words</body></message>`);
    const bye = await web.send(`<message xmlns='jabber:client' to='${tcp.jid}' type='chat'><body>goodbye</body></message>`, { type: 'terminate' });
    assert.equal(bye.body.attrs.type, 'terminate', bye.text);
    assert.equal(bye.body.attrs.condition, undefined);
    await tcp.waitFor((el) => el.getChildText('body') === 'goodbye');
    const after = await web.send();
    assert.equal(after.body.attrs.condition, 'item-not-found');
    assert.ok(jid);
    await tcp.stop();
  });

  it('drops a session that stops asking once more than max_pending_stanzas wait for it', async () => {
    const web = new RawBoshClient(url);
    const jid = await web.login('carol', 'slow');
    const tcp = await ts.client('dave', { resource: 'flood' });
    // No request is held now (the bind response was the last): everything for the client waits.
    for (let i = 0; i < 25; i++) await tcp.send(xml('message', { to: jid, type: 'chat' }, xml('body', null, `n${i}`)));
    await tcp.iq(xml('iq', { type: 'get', to: 'localhost', id: 'sync' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    const r = await web.send();
    assert.equal(r.body.attrs.type, 'terminate', r.text);
    assert.equal(r.body.attrs.condition, 'item-not-found', 'the session was dropped past the bound');
    await tcp.stop();
  });

  it('refuses a body larger than the stanza size limit with policy-violation', async () => {
    const c = new RawBoshClient(url);
    await c.create();
    const big = `<message xmlns='jabber:client' to='bob@localhost'><body>${'x'.repeat(12_000)}</body></message>`;
    const r = await c.send(big);
    assert.equal(r.body.attrs.condition, 'policy-violation', r.text);
    const after = await c.send();
    assert.equal(after.body.attrs.condition, 'item-not-found', 'the session ended with it');
  });

  it('answers CORS preflights for allowed origins, refuses others, and is named in host-meta', async () => {
    const pre = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Content-Type/i);
    const c = new RawBoshClient(url);
    const ok = await c.post(c.body('', { to: 'localhost', 'xmpp:version': '1.0', 'xmlns:xmpp': XBOSH, wait: '1' }), { Origin: 'http://app.example' });
    assert.equal(ok.headers['access-control-allow-origin'], 'http://app.example');
    const refused = await fetch(url, { method: 'POST', body: c.body(), headers: { Origin: 'http://evil.example' } });
    assert.equal(refused.status, 403);
    const meta = await (await fetch(`http://127.0.0.1:${ts.httpPort}/.well-known/host-meta.json`)).json() as { links: { rel: string; href: string }[] };
    assert.ok(meta.links.some((l) => l.rel === 'urn:xmpp:alt-connections:xbosh' && l.href === `http://127.0.0.1:${ts.httpPort}/http-bind`), JSON.stringify(meta));
  });
});

describe('BOSH from loopback counts as secure (bosh.loopback_is_secure), as WebSocket does', () => {
  let ts: TestServer;
  let url: string;
  before(async () => {
    ts = await startTestServer({ c2s: { allow_plaintext_auth: false } } as never);
    url = `http://127.0.0.1:${ts.httpPort}/http-bind`;
  });
  after(() => ts.stop());

  const mechanisms = (r: { body: { getChild(n: string, ns?: string): { getChild(n: string): { getChildren(n: string): Array<{ text(): string }> } | undefined } | undefined } }) =>
    r.body.getChild('features', NS.STREAM)?.getChild('mechanisms')?.getChildren('mechanism').map((m) => m.text()) ?? [];

  it('offers PLAIN to a session created directly from loopback, not to one a proxy forwarded', async () => {
    const direct = new RawBoshClient(url);
    assert.ok(mechanisms(await direct.create()).includes('PLAIN'));
    const proxied = new RawBoshClient(url);
    const reply = await proxied.post(proxied.body('', { to: 'localhost', 'xml:lang': 'en', wait: '2', hold: '1', ver: '1.11', 'xmlns:xmpp': XBOSH, 'xmpp:version': '1.0' }), {
      'X-Forwarded-For': '203.0.113.9',
    });
    assert.ok(reply.body.attrs.sid);
    assert.ok(!mechanisms(reply).includes('PLAIN'), reply.text);
  });
});

describe('BOSH sessions count against the client connection limits', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ c2s: { max_connections: 1 } } as never);
  });
  after(() => ts.stop());

  it('refuses a session past c2s.max_connections, and counts a terminated one no more', async () => {
    const url = `http://127.0.0.1:${ts.httpPort}/http-bind`;
    const first = new RawBoshClient(url);
    assert.equal((await first.create()).body.attrs.type, undefined);
    const second = await new RawBoshClient(url).create();
    assert.equal(second.body.attrs.type, 'terminate');
    assert.equal(second.body.attrs.condition, 'policy-violation');
    const bye = await first.send('', { type: 'terminate' });
    assert.equal(bye.body.attrs.type, 'terminate');
    const third = await new RawBoshClient(url).create();
    assert.equal(third.body.attrs.type, undefined, third.text);
    assert.ok(third.body.attrs.sid);
  });
});

describe('BOSH inactivity and pauses (XEP-0124 §7, §10)', () => {
  let ts: TestServer;
  let url: string;
  before(async () => {
    ts = await startTestServer({ bosh: { inactivity_s: 2, max_pause_s: 30 } } as never);
    url = `http://127.0.0.1:${ts.httpPort}/http-bind`;
    for (const u of ['erin', 'frank', 'gina', 'hank']) await ts.createUser(u);
  });
  after(() => ts.stop());

  it('ends a session with no request for longer than inactivity (2 s)', async () => {
    const web = new RawBoshClient(url);
    await web.login('erin', 'bosh');
    await sleep(2600);
    const r = await web.send();
    assert.equal(r.body.attrs.condition, 'item-not-found', r.text);
  });

  it('lets the client pause up to maxpause, and refuses a longer pause with policy-violation', async () => {
    const web = new RawBoshClient(url);
    await web.login('frank', 'bosh');
    const paused = await web.send('', { pause: '3' });
    assert.equal(paused.body.attrs.type, undefined, paused.text);
    // Longer than inactivity (2 s), shorter than the pause (3 s): the session is still there.
    await sleep(2400);
    const back = await web.send();
    assert.equal(back.body.attrs.type, undefined, back.text);
    const tooLong = await web.send('', { pause: '31' });
    assert.equal(tooLong.body.attrs.condition, 'policy-violation');
  });

  it('keeps a stream whose BOSH session timed out for XEP-0198 resumption, on a new BOSH session', async () => {
    const SM = 'urn:xmpp:sm:3';
    const tcp = await ts.client('hank', { resource: 'tcp' });
    const web = new RawBoshClient(url);
    const jid = await web.login('gina', 'phone');
    const enabled = await web.send(`<enable xmlns='${SM}' resume='true'/>`);
    const previd = enabled.body.getChild('enabled')?.attrs.id;
    assert.ok(previd, enabled.text);
    // No request for longer than inactivity: the BOSH session ends, the stream hibernates and queues.
    await sleep(2600);
    assert.equal((await web.send()).body.attrs.condition, 'item-not-found');
    await tcp.send(xml('message', { to: jid, type: 'chat' }, xml('body', null, 'while you were away')));
    await sleep(100);
    const again = new RawBoshClient(url);
    await again.create();
    const auth = await again.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0gina\0secret').toString('base64')}</auth>`);
    assert.ok(auth.body.getChild('success'), auth.text);
    await again.send('', { to: 'localhost', 'xmlns:xmpp': XBOSH, 'xmpp:restart': 'true' });
    const resumed = await again.send(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
    assert.ok(resumed.body.getChild('resumed'), resumed.text);
    // What arrived while away is retransmitted on the new session (in the same body or the next).
    const text = resumed.text.includes('while you were away') ? resumed.text : (await again.send()).text;
    assert.match(text, /while you were away/);
    await tcp.stop();
  });
});
