// TLS parameters on the wire (RFC 7590 §3.4, RFC 9325): a client that offers only ciphers without forward secrecy is
// refused on both the STARTTLS and the direct TLS port, TLS 1.3 is negotiated when the client has it, and
// tls.min_version / tls.ciphers are validated and applied.
import assert from 'node:assert/strict';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config';
import { RawClient, startTestServer, type TestServer } from '../testing/harness';

type Handshake = { ok: true; protocol: string | null; cipher: string } | { ok: false; error: string };

/** Completes (or fails) a TLS handshake with `options`, then closes the socket. */
function handshake(options: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().standardName });
      socket.destroy();
    });
    socket.once('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

/** Direct TLS (XEP-0368) to the TLS port. */
const directTls = (ts: TestServer, options: ConnectionOptions = {}) => handshake({ port: ts.tlsPort, ...options });

/** STARTTLS (RFC 6120 §5) on the plain port, then the handshake over the same socket. */
async function startTls(ts: TestServer, options: ConnectionOptions = {}): Promise<Handshake> {
  const raw = await RawClient.connect(ts.port);
  raw.open();
  await raw.waitFor('</stream:features>');
  raw.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  await raw.waitFor(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  raw.socket.removeAllListeners('data');
  try {
    return await handshake({ socket: raw.socket, ...options });
  } finally {
    raw.destroy();
  }
}

/** A TLS 1.2 client offering only RSA key exchange: whoever records the traffic and later gets the key reads it all. */
const NON_FORWARD_SECRET: ConnectionOptions = { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256' };

describe('TLS parameters (RFC 9325)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer();
  });
  after(() => ts.stop());

  for (const [name, connect] of [['direct TLS', directTls], ['STARTTLS', startTls]] as const) {
    it(`${name}: refuses a TLS 1.2 client offering only ciphers without forward secrecy`, async () => {
      const result = await connect(ts, NON_FORWARD_SECRET);
      assert.equal(result.ok, false, `handshake should fail, got ${JSON.stringify(result)}`);
    });

    it(`${name}: negotiates TLS 1.3 with a client that has it`, async () => {
      const result = await connect(ts);
      assert.deepEqual(result.ok && result.protocol, 'TLSv1.3');
    });

    it(`${name}: accepts TLS 1.2 with ECDHE and an AEAD cipher`, async () => {
      const result = await connect(ts, { maxVersion: 'TLSv1.2' });
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.protocol, 'TLSv1.2');
      assert.match(result.cipher, /^TLS_ECDHE_(RSA|ECDSA)_WITH_.*(GCM|CHACHA20_POLY1305)/);
    });
  }

  it('refuses TLS 1.2 altogether with tls.min_version TLSv1.3', async () => {
    const strict = await startTestServer({ tls: { min_version: 'TLSv1.3' } } as never);
    try {
      assert.equal((await directTls(strict, { maxVersion: 'TLSv1.2' })).ok, false);
      assert.equal((await startTls(strict, { maxVersion: 'TLSv1.2' })).ok, false);
      const modern = await directTls(strict);
      assert.deepEqual(modern.ok && modern.protocol, 'TLSv1.3');
    } finally {
      await strict.stop();
    }
  });

  it('applies a configured cipher list', async () => {
    const chacha = await startTestServer({ tls: { ciphers: 'TLS_CHACHA20_POLY1305_SHA256:ECDHE-RSA-CHACHA20-POLY1305' } } as never);
    try {
      const v13 = await directTls(chacha);
      assert.deepEqual(v13.ok && v13.cipher, 'TLS_CHACHA20_POLY1305_SHA256');
      const v12 = await startTls(chacha, { maxVersion: 'TLSv1.2' });
      assert.deepEqual(v12.ok && v12.cipher, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256');
    } finally {
      await chacha.stop();
    }
  });

  it('validates tls.ciphers and tls.min_version, naming the key', () => {
    const problem = (tls: Record<string, unknown>): string => {
      try {
        loadConfig({ overrides: { tls } as never });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      return 'accepted';
    };
    assert.match(problem({ ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:NOT-A-CIPHER' }), /tls\.ciphers.*unknown cipher suite: NOT-A-CIPHER/);
    assert.match(problem({ ciphers: 'TLS_AES_128_GCM_SHA256:TLS_NOPE' }), /tls\.ciphers.*TLS_NOPE/);
    assert.match(problem({ ciphers: '' }), /tls\.ciphers/);
    assert.match(problem({ min_version: 'TLSv1.3', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), /tls\.ciphers.*no TLS 1\.3 suite/);
    assert.match(problem({ min_version: 'TLSv1.1' }), /tls\.min_version/);
    assert.equal(problem({ min_version: 'TLSv1.3' }), 'accepted');
    assert.equal(problem({ ciphers: 'HIGH:!aNULL:!kRSA' }), 'accepted');
  });
});
