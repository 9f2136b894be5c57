// The stream machine with the client policy, driven through the in-memory connection: no sockets, the TCP framing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@parley/protocol';
import { loadConfig } from '../config';
import { silentLogger } from '../log';
import { createCore } from '../main';
import type { ParleyServer } from '../core/server';
import { MemoryConnection } from '../net/memory-connection';
import { createMechanisms } from './sasl';
import { IpRateLimiter } from './rate-limiter';
import { C2sSession } from './c2s-session';
import type { C2sSettings } from './c2s-settings';

const OPEN = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`;
const plain = (user: string, password = 'secret'): string =>
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`;

describe('stream machine over an in-memory connection', () => {
  let server: ParleyServer;
  let settings: C2sSettings;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-machine-'));
    const config = loadConfig({ overrides: { domain: 'localhost', data_dir: dataDir, storage: { backend: 'memory' }, auth: { scram_iterations: 4096 } } as never });
    server = await createCore(config, silentLogger());
    settings = {
      requireTls: false,
      maxStanzaSize: 10_000,
      maxSessions: 100,
      registrationOpen: false,
      mechanisms: createMechanisms({ allowInsecurePlain: true, scramIterations: 4096 }),
      authLimiter: new IpRateLimiter(10, 60_000, ['127.0.0.0/8']),
      maxAuthFailuresPerStream: 3,
    };
    await server.accounts.create('alice', 'secret');
    await server.accounts.create('bob', 'secret');
  });
  after(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A bound client stream over a fresh in-memory connection. */
  async function login(user: string, resource: string): Promise<{ conn: MemoryConnection; session: C2sSession }> {
    const conn = new MemoryConnection();
    const session = new C2sSession(server, conn, settings);
    conn.receive(OPEN);
    await conn.waitFor('</stream:features>');
    conn.receive(plain(user));
    await conn.waitFor('<success');
    conn.output = '';
    conn.receive(OPEN);
    await conn.waitFor('</stream:features>');
    conn.output = '';
    conn.receive(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await conn.waitFor('</iq>');
    assert.equal(session.machine.state, 'established', conn.output);
    conn.output = '';
    return { conn, session };
  }

  it('answers the header with its own and the features of the first stage', async () => {
    const conn = new MemoryConnection();
    const session = new C2sSession(server, conn, settings);
    assert.equal(session.machine.state, 'header');
    conn.receive(OPEN);
    const out = await conn.waitFor('</stream:features>');
    assert.match(out, /^<\?xml version='1.0'\?><stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx.jabber.org\/streams' id='[^']+' from='localhost' version='1.0' xml:lang='en'>/);
    assert.match(out, /<mechanism>PLAIN<\/mechanism>/);
    assert.equal(session.machine.state, 'features');
    conn.receive('</stream:stream>');
    await conn.waitFor('</stream:stream>');
    assert.equal(session.machine.state, 'closed');
    assert.ok(conn.ended);
  });

  it('closes a stream in the wrong namespace after its own header, with invalid-namespace', async () => {
    const conn = new MemoryConnection();
    new C2sSession(server, conn, settings);
    conn.receive(`<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='localhost' version='1.0'>`);
    const out = await conn.waitFor('</stream:stream>');
    assert.match(out, /^<\?xml version='1.0'\?><stream:stream [^>]+><stream:error><invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><\/stream:error><\/stream:stream>$/);
    assert.ok(conn.ended);
  });

  it('authenticates, restarts, binds, and routes a message to another session', async () => {
    const alice = await login('alice', 'mem');
    const bob = await login('bob', 'mem');
    alice.conn.receive(`<message to='bob@localhost/mem' type='chat' id='m1'><body>hi</body></message>`);
    const out = await bob.conn.waitFor('</message>');
    assert.match(out, /<message to='bob@localhost\/mem' type='chat' id='m1' from='alice@localhost\/mem'><body>hi<\/body>/);
    alice.session.close();
    bob.session.close();
  });

  it('puts the features a stream/features handler adds after an await into the features element', async () => {
    const late = server.hooks.on('stream/features', async ({ features }) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      features.push(xml('late', { xmlns: 'urn:example:late' }));
    });
    try {
      const conn = new MemoryConnection();
      new C2sSession(server, conn, settings);
      conn.receive(OPEN);
      await conn.waitFor('</stream:features>');
      conn.receive(plain('alice'));
      await conn.waitFor('<success');
      conn.output = '';
      conn.receive(OPEN);
      const out = await conn.waitFor('</stream:features>');
      assert.match(out, /<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>.*<late xmlns='urn:example:late'\/>.*<\/stream:features>/);
    } finally {
      late.dispose();
    }
  });

  it('processes the stanzas sent before the closing tag, then closes (RFC 6120 §4.4)', async () => {
    const alice = await login('alice', 'closing');
    const bob = await login('bob', 'closing');
    const closed: string[] = [];
    const onClosed = server.hooks.on('session/closed', ({ session }) => void closed.push(session.jid.toString()));
    try {
      alice.conn.receive(`<message to='bob@localhost/closing' type='chat'><body>last words</body></message></stream:stream>`);
      await bob.conn.waitFor('last words');
      await alice.conn.waitFor('</stream:stream>');
      assert.equal(alice.session.machine.state, 'closed');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(closed, ['alice@localhost/closing']);
    } finally {
      onClosed.dispose();
      bob.session.close();
    }
  });

  it('ends a session whose transport is lost when no module keeps it', async () => {
    const sm = server.modules.find((m) => m.definition.name === 'sm');
    assert.ok(sm, 'stream management is loaded');
    const { conn, session } = await login('alice', 'lost');
    // Without <enable resume='true'/>, stream management does not keep the session.
    conn.drop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(session.machine.state, 'closed');
    assert.equal(server.sessions.get(session.jid), undefined);
  });

  it('pauses the transport while a queue of elements waits, and resumes it once drained', async () => {
    const { conn, session } = await login('alice', 'flood');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const hold = server.hooks.on('iq/host', async () => {
      await gate;
      return false;
    }, 2000);
    try {
      let batch = '';
      for (let i = 0; i < 70; i++) batch += `<iq type='get' id='p${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
      conn.receive(batch);
      assert.equal(conn.paused, true);
      release();
      await conn.waitFor(`id='p69'`);
      assert.equal(conn.paused, false);
    } finally {
      hold.dispose();
      session.close();
    }
  });
});
