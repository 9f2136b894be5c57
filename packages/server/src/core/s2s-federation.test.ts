// Federation end to end: two Parley servers in this process, a.test and b.test, each on its own loopback ports and
// reaching the other through s2s.static_routes. Self-signed certificates, so the servers authenticate each other by
// server dialback (XEP-0220) over STARTTLS. Real xmpp.js clients on both sides.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { parseXml } from '@parley/protocol';
import { startTestServer, type TestClient, type TestServer } from '../testing/harness';
import { createTestCa, hasOpenssl, type TestCa } from '../testing/test-ca';
import { freePort, startPair } from '../testing/s2s';

const isMessageWith = (body: string) => (el: ReturnType<typeof parseXml>) => el.name === 'message' && el.getChildText('body') === body;

describe('federation between two Parley servers (dialback)', () => {
  let a: TestServer;
  let b: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  before(async () => {
    ({ a, b } = await startPair());
    await a.createUser('alice');
    await b.createUser('bob');
    alice = await a.client('alice');
    bob = await b.client('bob');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('delivers a message both ways', async () => {
    await alice.send(`<message to='bob@b.test' type='chat'><body>hello bob</body></message>`);
    const got = await bob.waitFor(isMessageWith('hello bob'));
    assert.equal(got.attrs.from, alice.jid);
    await bob.send(`<message to='alice@a.test' type='chat'><body>hello alice</body></message>`);
    const back = await alice.waitFor(isMessageWith('hello alice'));
    assert.equal(back.attrs.from, bob.jid);
  });

  it('answers an iq to the remote domain', async () => {
    const reply = await alice.iq(`<iq type='get' to='b.test'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(reply.attrs.type, 'result');
    assert.equal(reply.attrs.from, 'b.test');
  });

  it('bounces a message to an unknown remote user with an error from that user’s server', async () => {
    await alice.send(`<message to='nobody@b.test' type='chat' id='m-unknown'><body>anyone?</body></message>`);
    const err = await alice.waitFor((el) => el.name === 'message' && el.attrs.id === 'm-unknown' && el.attrs.type === 'error');
    assert.equal(err.attrs.from, 'nobody@b.test');
    assert.ok(err.getChild('error')?.getChild('service-unavailable'), err.toString());
  });

  it('puts a remote user in a local room and a local user in a remote room', async () => {
    // bob (b.test) joins a room of a.test; alice joins it too and both see each other's messages.
    await bob.send(`<presence to='lounge@conference.a.test/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === 'lounge@conference.a.test/bob' && el.attrs.type === undefined);
    // XEP-0045 §10.1.2: the new room stays locked until its owner accepts the default configuration.
    const created = await bob.iq(`<iq type='set' to='lounge@conference.a.test'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    assert.equal(created.attrs.type, 'result', created.toString());
    await alice.send(`<presence to='lounge@conference.a.test/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === 'lounge@conference.a.test/alice');
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === 'lounge@conference.a.test/alice');
    await alice.send(`<message to='lounge@conference.a.test' type='groupchat'><body>welcome, bob</body></message>`);
    const inRoom = await bob.waitFor((el) => el.attrs.type === 'groupchat' && el.getChildText('body') === 'welcome, bob');
    assert.equal(inRoom.attrs.from, 'lounge@conference.a.test/alice');
    // alice (a.test) joins a room of b.test: stanzas from conference.b.test ride the b.test → a.test stream
    // (dialback piggybacking, XEP-0220 §3).
    await alice.send(`<presence to='den@conference.b.test/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === 'den@conference.b.test/alice' && el.attrs.type === undefined);
    const den = await alice.iq(`<iq type='set' to='den@conference.b.test'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
    assert.equal(den.attrs.type, 'result', den.toString());
    await alice.send(`<message to='den@conference.b.test' type='groupchat'><body>hello den</body></message>`);
    await alice.waitFor((el) => el.attrs.type === 'groupchat' && el.attrs.from === 'den@conference.b.test/alice' && el.getChildText('body') === 'hello den');
  });

  it('brings a subscription to both with presence across domains', async () => {
    await alice.send(`<presence to='bob@b.test' type='subscribe'/>`);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === 'alice@a.test');
    await bob.send(`<presence to='alice@a.test' type='subscribed'/>`);
    await bob.send(`<presence to='alice@a.test' type='subscribe'/>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe' && el.attrs.from === 'bob@b.test');
    await alice.send(`<presence to='bob@b.test' type='subscribed'/>`);
    // RFC 6121 §3.1.5/§4.3.2: each side probes the other and sees its available presence.
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === bob.jid && el.attrs.type === undefined);
    await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === alice.jid && el.attrs.type === undefined);
    const roster = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
    const item = roster.getChild('query')?.getChild('item');
    assert.equal(item?.attrs.jid, 'bob@b.test');
    assert.equal(item?.attrs.subscription, 'both');
    // A presence change reaches the remote contact.
    await bob.send(`<presence><show>away</show></presence>`);
    await alice.waitFor((el) => el.name === 'presence' && el.attrs.from === bob.jid && el.getChildText('show') === 'away');
  });
});

describe('federation failures', () => {
  it('bounces what passes s2s.max_queued_stanzas with resource-constraint, then the rest with remote-server-timeout', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const a = await startTestServer({ domain: 'a.test', s2s: { connect_timeout_s: 1, max_queued_stanzas: 2, static_routes: { 'mute.test': `127.0.0.1:${port}` } } } as never);
    try {
      await a.createUser('alice');
      const alice = await a.client('alice');
      for (const id of ['q1', 'q2', 'q3']) await alice.send(`<message to='x@mute.test' id='${id}'><body>hi</body></message>`);
      const third = await alice.waitFor((el) => el.attrs.id === 'q3' && el.attrs.type === 'error');
      assert.ok(third.getChild('error')?.getChild('resource-constraint'), third.toString());
      const first = await alice.waitFor((el) => el.attrs.id === 'q1' && el.attrs.type === 'error', 5000);
      assert.ok(first.getChild('error')?.getChild('remote-server-timeout'), first.toString());
    } finally {
      await a.stop();
      silent.close();
    }
  });

  it('declares the dialback namespace on its outgoing header (XEP-0220 §2.1.1), not with s2s.auth external', async () => {
    // COMPAT(ejabberd): ejabberd 23.01 ignores <db:result/> on a stream whose header did not declare xmlns:db.
    for (const auth of ['any', 'external'] as const) {
      let header = '';
      const listener = createServer((socket) => {
        socket.setEncoding('utf8');
        socket.on('data', (d: string) => (header += d));
      });
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
      const port = (listener.address() as { port: number }).port;
      const a = await startTestServer({ domain: 'a.test', s2s: { auth, static_routes: { 'peer.test': `127.0.0.1:${port}` } } } as never);
      try {
        await a.createUser('alice');
        const alice = await a.client('alice');
        await alice.send(`<message to='x@peer.test'><body>hi</body></message>`);
        const deadline = Date.now() + 5000;
        while (!header.includes('<stream:stream') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const open = /<stream:stream [^>]*>/.exec(header)?.[0] ?? '';
        assert.match(open, /to='peer\.test'/, header);
        if (auth === 'any') assert.match(open, /xmlns:db='jabber:server:dialback'/);
        else assert.doesNotMatch(open, /xmlns:db/);
      } finally {
        await a.stop();
        listener.close();
      }
    }
  });

  it('bounces what passes s2s.max_queued_bytes with resource-constraint', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const a = await startTestServer({ domain: 'a.test', s2s: { connect_timeout_s: 2, max_queued_bytes: 65536, static_routes: { 'mute.test': `127.0.0.1:${port}` } } } as never);
    try {
      await a.createUser('alice');
      const alice = await a.client('alice');
      const body = 'y'.repeat(30_000);
      for (const id of ['b1', 'b2', 'b3']) await alice.send(`<message to='x@mute.test' id='${id}'><body>${body}</body></message>`);
      const third = await alice.waitFor((el) => el.attrs.id === 'b3' && el.attrs.type === 'error');
      assert.ok(third.getChild('error')?.getChild('resource-constraint'), third.toString());
      const first = await alice.waitFor((el) => el.attrs.id === 'b1' && el.attrs.type === 'error', 8000);
      assert.ok(first.getChild('error')?.getChild('remote-server-timeout'), 'the first two waited for the stream');
    } finally {
      await a.stop();
      silent.close();
    }
  });

  it('does not federate with a domain on s2s.deny, nor outside s2s.allow', async () => {
    const a = await startTestServer({ domain: 'a.test', s2s: { deny: ['blocked.test'], allow: ['blocked.test', 'friends.test'] } } as never);
    try {
      await a.createUser('alice');
      const alice = await a.client('alice');
      await alice.send(`<message to='x@blocked.test' id='d1'><body>hi</body></message>`);
      await alice.send(`<message to='x@stranger.test' id='d2'><body>hi</body></message>`);
      for (const id of ['d1', 'd2']) {
        const err = await alice.waitFor((el) => el.attrs.id === id && el.attrs.type === 'error');
        assert.ok(err.getChild('error')?.getChild('remote-server-not-found'), err.toString());
      }
      assert.deepEqual(a.running.server.s2s?.outgoingDomains, [], 'no stream was even tried');
    } finally {
      await a.stop();
    }
  });

  it('bounces with remote-server-not-found when the remote server cannot be reached', async () => {
    const port = await freePort(); // nothing listens there
    const a = await startTestServer({ domain: 'a.test', s2s: { static_routes: { 'gone.test': `127.0.0.1:${port}` } } } as never);
    try {
      await a.createUser('alice');
      const alice = await a.client('alice');
      await alice.send(`<message to='x@gone.test' id='m1'><body>hi</body></message>`);
      const err = await alice.waitFor((el) => el.attrs.id === 'm1' && el.attrs.type === 'error');
      assert.ok(err.getChild('error')?.getChild('remote-server-not-found'), err.toString());
    } finally {
      await a.stop();
    }
  });

  it('bounces with remote-server-timeout when the remote server never answers', async () => {
    const silent = createServer(() => {}); // accepts, never speaks
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const a = await startTestServer({ domain: 'a.test', s2s: { connect_timeout_s: 1, static_routes: { 'mute.test': `127.0.0.1:${port}` } } } as never);
    try {
      await a.createUser('alice');
      const alice = await a.client('alice');
      await alice.send(`<message to='x@mute.test' id='m2'><body>hi</body></message>`);
      const err = await alice.waitFor((el) => el.attrs.id === 'm2' && el.attrs.type === 'error', 5000);
      assert.ok(err.getChild('error')?.getChild('remote-server-timeout'), err.toString());
    } finally {
      await a.stop();
      silent.close();
    }
  });
});

describe('federation by SASL EXTERNAL only (a test CA, dialback off)', { skip: hasOpenssl() ? false : 'the openssl command is not installed' }, () => {
  let ca: TestCa;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    ca = createTestCa();
    const certA = ca.issue('a.test');
    const certB = ca.issue('b.test');
    const portA = await freePort();
    const portB = await freePort();
    const common = { auth: 'external', ca_file: ca.caFile, require_valid_certificates: true };
    a = await startTestServer({
      domain: 'a.test',
      tls: { cert: certA.cert, key: certA.key },
      s2s: { ...common, port: portA, static_routes: { 'b.test': `127.0.0.1:${portB}`, 'conference.b.test': `127.0.0.1:${portB}` } },
    } as never);
    b = await startTestServer({
      domain: 'b.test',
      tls: { cert: certB.cert, key: certB.key },
      s2s: { ...common, port: portB, static_routes: { 'a.test': `127.0.0.1:${portA}`, 'conference.a.test': `127.0.0.1:${portA}` } },
    } as never);
    await a.createUser('alice');
    await b.createUser('bob');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    ca?.remove();
  });

  it('delivers messages both ways, and a service sub-domain gets its own EXTERNAL stream', async () => {
    const alice = await a.client('alice');
    const bob = await b.client('bob');
    await alice.send(`<message to='bob@b.test' type='chat'><body>signed hello</body></message>`);
    assert.equal((await bob.waitFor(isMessageWith('signed hello'))).attrs.from, alice.jid);
    await bob.send(`<message to='alice@a.test' type='chat'><body>signed reply</body></message>`);
    assert.equal((await alice.waitFor(isMessageWith('signed reply'))).attrs.from, bob.jid);
    // A remote user in a room of a.test: the room (conference.a.test) answers over a stream of its own.
    await bob.send(`<presence to='room@conference.a.test/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    const self = await bob.waitFor((el) => el.name === 'presence' && el.attrs.from === 'room@conference.a.test/bob');
    assert.equal(self.attrs.type, undefined, self.toString());
  });

  it('refuses a server whose certificate does not validate (no dialback to fall back on)', async () => {
    const port = await freePort();
    // Self-signed (the generated development certificate), and not trusted by b.test.
    const c = await startTestServer({
      domain: 'c.test',
      s2s: { port, auth: 'any', static_routes: { 'b.test': `127.0.0.1:${b.s2sPort}` } },
    } as never);
    try {
      await c.createUser('carol');
      const carol = await c.client('carol');
      await carol.send(`<message to='bob@b.test' id='m-c'><body>let me in</body></message>`);
      const err = await carol.waitFor((el) => el.attrs.id === 'm-c' && el.attrs.type === 'error', 20_000);
      assert.ok(err.getChild('error')?.getChild('remote-server-not-found'), err.toString());
    } finally {
      await c.stop();
    }
  });
});
