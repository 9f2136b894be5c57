// Connection limits from accept on: direct-TLS sockets (XEP-0368) that never finish (or never start) their handshake
// hold a slot toward c2s.max_connections_per_ip and c2s.max_connections, and are dropped after
// c2s.tls_handshake_timeout_s rather than Node's two minutes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startTestServer, type TestServer } from '../testing/harness';

/** A TCP connection that sends nothing: a TLS client that never says ClientHello. */
function silentSocket(port: number): Promise<Socket & { closedAt?: number }> {
  return new Promise((resolve, reject) => {
    const s: Socket & { closedAt?: number } = tcpConnect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.on('close', () => (s.closedAt = Date.now()));
    s.on('error', () => {});
    s.once('error', reject);
  });
}

/** Resolves with what the server sent before closing, or undefined if it kept the connection open for `ms`. */
function refusedWithin(socket: Socket, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

const until = async (test: () => boolean, ms: number): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('c2s listener: direct TLS counts from accept', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      rate_limit: { exempt_networks: [] },
      c2s: { max_connections_per_ip: 3, tls_handshake_timeout_s: 1 },
    } as never);
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('counts direct-TLS sockets still in their handshake toward the per-address limit, and drops them at the deadline', async () => {
    const opened = Date.now();
    const silent = await Promise.all([1, 2, 3].map(() => silentSocket(ts.tlsPort)));
    await until(() => ts.running.c2sConnections().filter((c) => c.handshaking).length === 3, 2000);
    // A fourth connection from the same address, on either port, is refused without a word.
    const extraPlain = await silentSocket(ts.port);
    extraPlain.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    assert.equal(await refusedWithin(extraPlain, 2000), '', 'the connection over the limit is closed at once');
    const extraTls = await silentSocket(ts.tlsPort);
    assert.equal(await refusedWithin(extraTls, 2000), '');
    // c2s.tls_handshake_timeout_s: the silent ones are dropped after about a second, not after Node's 120 s.
    await until(() => silent.every((s) => s.closedAt !== undefined), 5000);
    for (const s of silent) assert.ok(s.closedAt! - opened < 4000, `dropped after ${s.closedAt! - opened} ms`);
    // Their slots are free again.
    await until(() => ts.running.c2sConnections().length === 0, 2000);
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    r.destroy();
  });

  it('drops a STARTTLS client that never starts its handshake after <proceed/> at the same deadline', async () => {
    const r = await ts.raw();
    r.open();
    await r.waitFor('</stream:features>');
    const asked = Date.now();
    r.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await r.waitFor('<proceed');
    await r.waitClosed(5000);
    assert.ok(Date.now() - asked < 4000);
  });

  it('keeps a direct-TLS stream that finished its handshake past the handshake deadline (ALPN xmpp-client)', async () => {
    const socket = tlsConnect({ port: ts.tlsPort, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    assert.equal(socket.alpnProtocol, 'xmpp-client');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than the handshake deadline
    socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    await until(() => data.includes('</stream:features>'), 3000);
    assert.match(data, /<mechanism>PLAIN<\/mechanism>/);
    socket.destroy();
    await until(() => ts.running.c2sConnections().length === 0, 2000);
  });
});

describe('c2s listener: direct TLS handshakes count toward max_connections', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ c2s: { max_connections: 2, tls_handshake_timeout_s: 30 } } as never);
  });
  after(() => ts.stop());

  it('refuses a connection while the server is full of handshakes that never end', async () => {
    const silent = await Promise.all([1, 2].map(() => silentSocket(ts.tlsPort)));
    await until(() => ts.running.c2sConnections().length === 2, 2000);
    const extra = await silentSocket(ts.port);
    extra.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
    assert.equal(await refusedWithin(extra, 2000), '');
    for (const s of silent) s.destroy();
    await until(() => ts.running.c2sConnections().length === 0, 2000);
  });
});
