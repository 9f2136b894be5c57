// XMPP over WebSocket (RFC 7395) end to end: xmpp.js over WebSocket chatting with a TCP client, the framing seen by a
// raw ws client, the Origin allow-list, see-other-uri, ping keepalives, and XEP-0198 resumption after a kill.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { xml } from '@parley/protocol';
import { startTestServer, type TestServer } from '../testing/harness';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const OPEN = `<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`;

/** A raw RFC 7395 client: every message received, in order. */
class RawWs {
  messages: string[] = [];
  pings = 0;
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(data.toString());
      this.notify();
    });
    ws.on('ping', () => {
      this.pings++;
      this.notify();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.notify();
    });
    ws.on('error', () => {});
  }

  static connect(port: number, headers: Record<string, string> = {}, protocols: string[] = ['xmpp']): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`, protocols, { headers });
      ws.once('open', () => resolve(new RawWs(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Resolves with the first message (from `from` on) matching. */
  waitFor(pattern: RegExp | string, from = 0, timeoutMs = 5000): Promise<string> {
    const find = (): string | undefined => this.messages.slice(from).find((m) => (typeof pattern === 'string' ? m.includes(pattern) : pattern.test(m)));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${String(pattern)}; got: ${this.messages.join('\n')}`)), timeoutMs);
      const check = (): void => {
        const found = find();
        if (found === undefined) return void this.waiters.push(check);
        clearTimeout(timer);
        resolve(found);
      };
      check();
    });
  }

  waitUntil(test: () => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`condition not met; got: ${this.messages.join('\n')}`)), timeoutMs);
      const check = (): void => {
        if (!test()) return void this.waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    });
  }

  /** SASL PLAIN, restart, bind (RFC 7395 §3.5: the restart is a new <open/>). */
  async login(user: string, resource: string): Promise<void> {
    this.send(OPEN);
    await this.waitFor('</stream:features>');
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0secret`).toString('base64')}</auth>`);
    await this.waitFor('<success');
    const n = this.messages.length;
    this.send(OPEN);
    await this.waitFor('</stream:features>', n);
    this.send(`<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await this.waitFor(`id='bind'`, n);
  }
}

describe('XMPP over WebSocket (RFC 7395)', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ websocket: { allowed_origins: [] } } as never);
    await ts.createUser('alice');
    await ts.createUser('bob');
    await ts.createUser('carol');
  });
  after(() => ts.stop());

  it('lets an xmpp.js client log in over WebSocket and chat with a TCP client', async () => {
    const web = await ts.client('alice', { websocket: true, resource: 'web' });
    const tcp = await ts.client('bob', { resource: 'tcp' });
    await web.send(xml('message', { to: tcp.jid, type: 'chat', id: 'w1' }, xml('body', null, 'from the browser')));
    const got = await tcp.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'from the browser');
    assert.equal(got.attrs.from, web.jid);
    await tcp.send(xml('message', { to: web.jid, type: 'chat', id: 't1' }, xml('body', null, 'from the socket')));
    const back = await web.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'from the socket');
    assert.equal(back.attrs.from, tcp.jid);
    await web.stop();
    await tcp.stop();
  });

  it('frames the stream with <open/>, namespaced features and stanzas, and <close/>', async () => {
    const c = await RawWs.connect(ts.httpPort);
    assert.equal(c.ws.protocol, 'xmpp');
    c.send(OPEN);
    const open = await c.waitFor('<open');
    assert.match(open, /^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' from='localhost' version='1.0' xml:lang='en'\/>$/);
    const features = await c.waitFor('<stream:features');
    assert.match(features, /^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>.*<mechanism>PLAIN<\/mechanism>/);
    c.send(`<close xmlns='${FRAMING}'/>`);
    await c.waitFor(`<close xmlns='${FRAMING}'/>`);
    await c.waitUntil(() => c.closeCode !== undefined);
    assert.equal(c.closeCode, 1000);
  });

  it('closes a stream opened with <stream:stream> instead of <open/> with invalid-namespace', async () => {
    const c = await RawWs.connect(ts.httpPort);
    c.send(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'/>`);
    const error = await c.waitFor('<stream:error');
    assert.match(error, /^<stream:error xmlns:stream='http:\/\/etherx.jabber.org\/streams'><invalid-namespace xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await c.waitFor('<close');
    await c.waitUntil(() => c.closeCode !== undefined);
  });

  it('answers a binary frame with a stream error, and invalid UTF-8 in a text frame by closing (RFC 6455 §8.1)', async () => {
    const binary = await RawWs.connect(ts.httpPort);
    binary.send(OPEN);
    await binary.waitFor('</stream:features>');
    binary.ws.send(Buffer.from('<presence/>'), { binary: true });
    await binary.waitFor('<unsupported-encoding');
    await binary.waitUntil(() => binary.closeCode !== undefined);

    const utf8 = await RawWs.connect(ts.httpPort);
    utf8.send(OPEN);
    await utf8.waitFor('</stream:features>');
    // ws validates text frames; send raw bytes that are not UTF-8 as a text frame.
    utf8.ws.send(Buffer.from([0x3c, 0x61, 0xff, 0xfe, 0x2f, 0x3e]), { binary: false });
    await utf8.waitUntil(() => utf8.closeCode !== undefined);
    assert.equal(utf8.closeCode, 1007);
  });

  it('closes the stream with policy-violation for a stanza over the size limit', async () => {
    const c = await RawWs.connect(ts.httpPort);
    c.send(OPEN);
    await c.waitFor('</stream:features>');
    c.send(`<message xmlns='jabber:client'><body>${'x'.repeat(ts.config.c2s.max_stanza_size + 10)}</body></message>`);
    await c.waitFor('<policy-violation');
    await c.waitUntil(() => c.closeCode !== undefined);
  });

  it('refuses a page of another origin, and a handshake without the xmpp sub-protocol', async () => {
    await assert.rejects(RawWs.connect(ts.httpPort, { Origin: 'https://evil.example' }), /HTTP 403/);
    const same = await RawWs.connect(ts.httpPort, { Origin: `http://127.0.0.1:${ts.httpPort}` });
    same.ws.close();
    await assert.rejects(RawWs.connect(ts.httpPort, {}, ['chat']), /HTTP 400/);
  });

  it('resumes a WebSocket session killed mid-chat (XEP-0198) with what it missed', async () => {
    const tcp = await ts.client('carol', { resource: 'tcp' });
    const first = await RawWs.connect(ts.httpPort);
    await first.login('alice', 'phone');
    first.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    const enabled = await first.waitFor('<enabled');
    const previd = /id='([^']+)'/.exec(enabled)![1]!;
    await tcp.send(xml('message', { to: 'alice@localhost/phone', type: 'chat' }, xml('body', null, 'one')));
    await first.waitFor('>one</body>');
    first.send(`<a xmlns='urn:xmpp:sm:3' h='0'/>`);
    first.ws.terminate(); // the phone goes into a tunnel: no closing handshake
    await new Promise((resolve) => setTimeout(resolve, 200));
    await tcp.send(xml('message', { to: 'alice@localhost/phone', type: 'chat' }, xml('body', null, 'two')));
    await new Promise((resolve) => setTimeout(resolve, 100));

    const second = await RawWs.connect(ts.httpPort);
    second.send(OPEN);
    await second.waitFor('</stream:features>');
    second.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await second.waitFor('<success');
    const n = second.messages.length;
    second.send(OPEN);
    await second.waitFor('</stream:features>', n);
    second.send(`<resume xmlns='urn:xmpp:sm:3' previd='${previd}' h='1'/>`);
    await second.waitFor('<resumed');
    const missed = await second.waitFor('>two</body>');
    assert.ok(missed.startsWith(`<message xmlns='jabber:client' to='alice@localhost/phone' type='chat' from='${tcp.jid}'>`), missed);
    assert.match(missed, /<delay xmlns='urn:xmpp:delay'/);
    // The resumed session is the same one: it still chats.
    second.send(`<message xmlns='jabber:client' to='${tcp.jid}' type='chat'><body>back</body></message>`);
    await tcp.waitFor((el) => el.getChildText('body') === 'back');
    second.ws.close();
    await tcp.stop();
  });

  it('serves host-meta (XEP-0156) as XRD and JSON with CORS headers', async () => {
    const origin = { Origin: 'https://web.example' };
    const xrd = await fetch(`http://127.0.0.1:${ts.httpPort}/.well-known/host-meta`, { headers: origin });
    assert.equal(xrd.status, 200);
    assert.equal(xrd.headers.get('access-control-allow-origin'), '*');
    assert.match(xrd.headers.get('content-type') ?? '', /^application\/xrd\+xml/);
    assert.match(await xrd.text(), new RegExp(`<Link rel='urn:xmpp:alt-connections:websocket' href='ws://127.0.0.1:${ts.httpPort}/xmpp-websocket'/>`));
    const json = await fetch(`http://127.0.0.1:${ts.httpPort}/.well-known/host-meta.json`, { headers: origin });
    assert.equal(json.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(await json.json(), { links: [{ rel: 'urn:xmpp:alt-connections:websocket', href: `ws://127.0.0.1:${ts.httpPort}/xmpp-websocket` }] });
    const secure = await fetch(`https://127.0.0.1:${ts.httpsPort}/.well-known/host-meta.json`);
    assert.deepEqual(await secure.json(), { links: [{ rel: 'urn:xmpp:alt-connections:websocket', href: `wss://127.0.0.1:${ts.httpsPort}/xmpp-websocket` }] });
    const preflight = await fetch(`http://127.0.0.1:${ts.httpPort}/.well-known/host-meta.json`, { method: 'OPTIONS', headers: origin });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.equal((await fetch(`http://127.0.0.1:${ts.httpPort}/nothing-here`)).status, 404);
  });
});

describe('XMPP over WebSocket: configuration', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({
      websocket: { allowed_origins: ['https://app.example'], see_other_uri: 'wss://other.example/xmpp-websocket' },
      c2s: { whitespace_ping_s: 1, idle_timeout_s: 30 },
    } as never);
  });
  after(() => ts.stop());

  it('allows exactly the configured origins', async () => {
    await assert.rejects(RawWs.connect(ts.httpPort, { Origin: `http://127.0.0.1:${ts.httpPort}` }), /HTTP 403/);
    const allowed = await RawWs.connect(ts.httpPort, { Origin: 'https://app.example' });
    allowed.ws.close();
  });

  it('sends clients elsewhere with see-other-uri (RFC 7395 §3.6.1)', async () => {
    const c = await RawWs.connect(ts.httpPort);
    c.send(OPEN);
    const close = await c.waitFor('<close');
    assert.equal(close, `<close xmlns='${FRAMING}' see-other-uri='wss://other.example/xmpp-websocket'/>`);
    await c.waitUntil(() => c.closeCode !== undefined);
    assert.equal(c.messages.length, 1);
  });
});

describe('XMPP over WebSocket: keepalives', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ c2s: { whitespace_ping_s: 1, idle_timeout_s: 30 } } as never);
    await ts.createUser('alice');
  });
  after(() => ts.stop());

  it('pings an idle established client with WebSocket ping frames, not whitespace', async () => {
    const c = await RawWs.connect(ts.httpPort);
    await c.login('alice', 'idle');
    await c.waitUntil(() => c.pings > 0, 6000);
    assert.ok(c.messages.every((m) => m.trim() === m && m.startsWith('<')));
    c.ws.close();
  });
});
