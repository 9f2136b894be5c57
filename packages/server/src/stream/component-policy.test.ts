// XEP-0114 component streams through the in-memory connection: the stream machine with the component policy, no
// sockets. Routing to and from the component goes through the real router, to a client stream on the same core.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config';
import { silentLogger } from '../log';
import { createCore } from '../main';
import type { ParleyServer } from '../core/server';
import { MemoryConnection } from '../net/memory-connection';
import { IpRateLimiter } from './rate-limiter';
import { ComponentSession, handshakeDigest, type ComponentSettings } from './component-policy';
import { C2sSession } from './c2s-session';
import { createMechanisms } from './sasl';

const open = (to: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${to}'>`;
const streamIdOf = (output: string): string => /<stream:stream [^>]*\bid=(['"])([^'"]+)\1/.exec(output)![2]!;

describe('XEP-0114 component stream over an in-memory connection', () => {
  let server: ParleyServer;
  let dataDir: string;
  let settings: ComponentSettings;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-component-'));
    const config = loadConfig({
      overrides: {
        domain: 'localhost',
        data_dir: dataDir,
        storage: { backend: 'memory' },
        auth: { scram_iterations: 4096 },
        components: { list: [{ domain: 'gw.localhost', secret: 's3cret' }, { domain: 'other.localhost', secret: 'x' }] },
      } as never,
    });
    server = await createCore(config, silentLogger());
    await server.accounts.create('alice', 'secret');
    settings = { authLimiter: new IpRateLimiter(3, 60_000, ['127.0.0.0/8']), handshakeTimeoutMs: 2000 };
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function connect(domain = 'gw.localhost', secret = 's3cret', ip = '127.0.0.1'): Promise<{ conn: MemoryConnection; session: ComponentSession }> {
    const conn = new MemoryConnection(ip, false);
    const session = new ComponentSession(server, conn, settings);
    conn.receive(open(domain));
    await conn.waitFor('<stream:stream');
    conn.receive(`<handshake>${handshakeDigest(streamIdOf(conn.output), secret)}</handshake>`);
    return { conn, session };
  }

  async function alice(): Promise<{ conn: MemoryConnection; session: C2sSession }> {
    const conn = new MemoryConnection();
    const session = new C2sSession(server, conn, {
      requireTls: false,
      maxStanzaSize: 10_000,
      maxSessions: 100,
      registrationOpen: false,
      mechanisms: createMechanisms({ allowInsecurePlain: true, scramIterations: 4096 }),
      authLimiter: new IpRateLimiter(10, 60_000, ['127.0.0.0/8']),
      maxAuthFailuresPerStream: 3,
    });
    const c2sOpen = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`;
    conn.receive(c2sOpen);
    await conn.waitFor('</stream:features>');
    conn.receive(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await conn.waitFor('<success');
    conn.output = '';
    conn.receive(c2sOpen);
    await conn.waitFor('</stream:features>');
    conn.receive(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`);
    await conn.waitFor('</iq>');
    conn.output = '';
    return { conn, session };
  }

  it('answers a versionless header from the component domain, without features, and accepts the right handshake', async () => {
    const { conn } = await connect();
    await conn.waitFor('<handshake/>');
    const header = /<stream:stream [^>]*>/.exec(conn.output)![0];
    assert.match(header, /xmlns=['"]jabber:component:accept['"]/);
    assert.match(header, /from=['"]gw\.localhost['"]/);
    assert.doesNotMatch(header, /version=/);
    assert.doesNotMatch(conn.output, /stream:features/);
    assert.ok(server.components.isConnected('gw.localhost'));
    assert.ok(server.main.items.some((it) => it.jid === 'gw.localhost'), 'listed in the server disco#items');
    conn.drop();
    await new Promise((r) => setImmediate(r));
    assert.ok(!server.components.isConnected('gw.localhost'));
    assert.ok(!server.main.items.some((it) => it.jid === 'gw.localhost'), 'gone from disco#items once disconnected');
  });

  it('closes with not-authorized on a wrong secret, host-unknown for a domain not configured', async () => {
    const wrong = await connect('gw.localhost', 'guess');
    await wrong.conn.waitFor('</stream:stream>');
    assert.match(wrong.conn.output, /<not-authorized xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/);
    assert.ok(wrong.conn.ended);
    assert.ok(!server.components.isConnected('gw.localhost'));

    const conn = new MemoryConnection('127.0.0.1', false);
    new ComponentSession(server, conn, settings);
    conn.receive(open('nobody.localhost'));
    await conn.waitFor('</stream:stream>');
    assert.match(conn.output, /<host-unknown /);
  });

  it('limits handshakes per address, and closes a stream that does not shake hands in time', async () => {
    for (let i = 0; i < 3; i++) {
      const { conn } = await connect('gw.localhost', 'guess', '192.0.2.7');
      await conn.waitFor('<not-authorized');
    }
    // The right secret, but the address is over its limit.
    const { conn } = await connect('gw.localhost', 's3cret', '192.0.2.7');
    await conn.waitFor('</stream:stream>');
    assert.match(conn.output, /<policy-violation /);
    assert.doesNotMatch(conn.output, /<handshake\/>/);

    const slow = new MemoryConnection('127.0.0.1', false);
    new ComponentSession(server, slow, { ...settings, handshakeTimeoutMs: 50 });
    slow.receive(open('gw.localhost'));
    await slow.waitFor('</stream:stream>');
    assert.match(slow.output, /<connection-timeout /);
  });

  it('routes everything for its domain to it and its stanzas from any JID of the domain; other from is invalid-from', async () => {
    const gw = await connect();
    await gw.conn.waitFor('<handshake/>');
    const a = await alice();
    // A client's stanzas to the domain and to a JID at it reach the component, disco#info included.
    a.conn.receive(`<iq type='get' id='i1' to='gw.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    a.conn.receive(`<message to='room%irc@gw.localhost' id='m1'><body>hi</body></message>`);
    await gw.conn.waitFor(/<message [^>]*id=['"]m1['"]/);
    const iq = /<iq [^>]*>/.exec(gw.conn.output)?.[0] ?? '';
    assert.match(iq, /id=['"]i1['"]/);
    assert.match(iq, /from=['"]alice@localhost\/r['"]/);
    // The component answers as any JID of its domain; alice gets it.
    gw.conn.receive(`<iq type='result' id='i1' from='gw.localhost' to='alice@localhost/r'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='gateway' type='irc'/></query></iq>`);
    gw.conn.receive(`<message from='room%irc@gw.localhost/bob' to='alice@localhost/r' type='chat' id='m2'><body>hello</body></message>`);
    await a.conn.waitFor(/id=['"]m2['"]/);
    assert.match(a.conn.output, /<identity category=['"]gateway['"]/);
    // The server did not answer disco#info in the component's place (XEP-0114: the component is that entity).
    assert.equal(a.conn.output.match(/<iq [^>]*id=['"]i1['"]/g)?.length, 1);
    // A 'from' outside its domain ends the stream.
    gw.conn.receive(`<message from='alice@localhost' to='alice@localhost/r'><body>spoof</body></message>`);
    await gw.conn.waitFor('</stream:stream>');
    assert.match(gw.conn.output, /<invalid-from /);
    await new Promise((r) => setImmediate(r));
    assert.doesNotMatch(a.conn.output, /spoof/);
    // Disconnected: a message bounces with service-unavailable, from the component's address.
    a.conn.output = '';
    a.conn.receive(`<message to='room%irc@gw.localhost' id='m3'><body>anyone?</body></message>`);
    await a.conn.waitFor(/<message [^>]*type=['"]error['"]/);
    assert.match(a.conn.output, /<service-unavailable /);
    assert.match(a.conn.output, /from=['"]room%irc@gw\.localhost['"]/);
    a.conn.drop();
  });

  it('a component that reconnects replaces its old stream, which gets conflict', async () => {
    const first = await connect();
    await first.conn.waitFor('<handshake/>');
    const second = await connect();
    await second.conn.waitFor('<handshake/>');
    await first.conn.waitFor('</stream:stream>');
    assert.match(first.conn.output, /<conflict /);
    await new Promise((r) => setImmediate(r));
    // The old stream's end does not unregister the new one.
    assert.ok(server.components.isConnected('gw.localhost'));
    const a = await alice();
    a.conn.receive(`<message to='gw.localhost' id='m4'><body>x</body></message>`);
    await second.conn.waitFor(/id=['"]m4['"]/);
    assert.doesNotMatch(first.conn.output, /m4/);
    second.conn.drop();
    a.conn.drop();
  });
});
